"""YOLOF label assignment: a config-friendly front for :mod:`matchcost` (Sec. 4.2, Table 5d-e).

Every rule lives in ``matchcost``; this class only carries the chosen rule and its
hyper-parameters so that a LazyConfig / yacs key selects it.
"""

import torch
from torch import Tensor

import matchcost
from matchcost import Assignment

__all__ = ["YOLOFAssigner", "METHODS"]

METHODS = ("uniform", "max_iou", "atss", "hungarian")


class YOLOFAssigner:
    """Label assignment of one image over the single-level anchors.

    Args:
        method: ``"uniform"`` (Uniform Matching, the paper), ``"max_iou"`` (RetinaNet: positive at
            IoU >= 0.5, negative < 0.4, low-quality matches), ``"atss"`` (ATSS with ``atss_topk``
            candidates on the one level), ``"hungarian"`` (one-to-one on the uniform-matching cost
            of the predicted boxes, i.e. "top-1 where an anchor matches at most one object",
            Sec. 5.2). The last three are Table 5e's alternatives.
        topk: k of Uniform Matching: the k nearest predicted boxes *and* the k nearest anchors per
            gt (Table 5d; 4, DC5: 8).
        neg_ignore_thresh: Uniform Matching ignores unmatched predictions whose box has IoU above
            this with a gt (0.7).
        pos_ignore_thresh: Uniform Matching ignores matched pairs whose *anchor* has IoU below this
            with the gt (0.15; DC5: 0.1).
        atss_topk: ATSS candidates per gt (Table 8: 15 is best for YOLOF, 9 is ATSS's default).
    """

    def __init__(
        self,
        *,
        method: str = "uniform",
        topk: int = 4,
        neg_ignore_thresh: float = 0.7,
        pos_ignore_thresh: float = 0.15,
        atss_topk: int = 15,
    ):
        if method not in METHODS:
            raise ValueError(f"YOLOFAssigner: method={method!r} is not one of {METHODS}")
        if topk < 1 or atss_topk < 1:
            raise ValueError(
                f"YOLOFAssigner: topk and atss_topk must be >= 1, got {topk}, {atss_topk}"
            )
        self.method = method
        self.topk = topk
        self.neg_ignore_thresh = neg_ignore_thresh
        self.pos_ignore_thresh = pos_ignore_thresh
        self.atss_topk = atss_topk

    def __repr__(self):
        return (
            f"YOLOFAssigner(method={self.method}, topk={self.topk}, neg_ignore={self.neg_ignore_thresh}, "
            f"pos_ignore={self.pos_ignore_thresh}, atss_topk={self.atss_topk})"
        )

    @torch.no_grad()
    def __call__(self, *, pred_boxes: Tensor, anchors: Tensor, gt_boxes: Tensor) -> Assignment:
        """``pred_boxes`` (R, 4) decoded from the current deltas, ``anchors`` (R, 4), ``gt_boxes``
        (G, 4), all xyxy. The result's pairs ``(pred_inds, gt_inds)`` are the box-loss pairs (for
        Uniform Matching only those with ``pair_valid``); ``labels`` gives the class targets."""
        if self.method == "uniform":
            return matchcost.uniform_assign(
                pred_boxes,
                anchors,
                gt_boxes,
                k=self.topk,
                neg_ignore_thresh=self.neg_ignore_thresh,
                pos_ignore_thresh=self.pos_ignore_thresh,
            )
        if self.method == "max_iou":
            return matchcost.max_iou_assign(anchors, gt_boxes)
        if self.method == "atss":
            return matchcost.atss_assign(anchors, gt_boxes, [anchors.shape[0]], topk=self.atss_topk)
        return matchcost.hungarian(matchcost.cxcywh_l1_cost(pred_boxes, gt_boxes), maximize=False)
