"""Composable match costs / qualities between G ground truths and N predictions (detrex ``match_cost`` style).

Every function takes prediction-side tensors (``(N, ...)``) and gt-side tensors (``(G, ...)``) and returns

* a dense ``(G, N)`` float32 matrix when ``pairs`` is ``None``, or
* ``(M,)`` float32 values on the candidate pairs when ``pairs`` is a
  :class:`~matchcost.structures.Candidates` (or a ``(gt_idx, pred_idx)`` tuple) - the sparse path used
  with a spatial prior, which never builds a ``(G, N)`` matrix.

Qualities are "higher is better" (POTO), costs "lower is better" (DETR / OneNet). All computations are in
float32 whatever the input dtype (fp16 / bf16 inputs work). Nothing here needs gradients; callers run
under ``torch.no_grad()``.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from .boxes import (
    as_float,
    box_centers,
    box_xyxy_to_cxcywh,
    elementwise_giou,
    elementwise_iou,
    pairwise_giou,
    pairwise_iou,
)
from .structures import Candidates

__all__ = [
    "class_prob",
    "iou_quality",
    "poto_quality",
    "combine_quality",
    "focal_class_cost",
    "focal_loss_cost",
    "giou_cost",
    "l1_cost",
    "cxcywh_l1_cost",
    "center_distance",
    "onenet_cost",
    "foreground_loss_cost",
]

PairsLike = Union[Candidates, Tuple[Tensor, Tensor], None]


def _pairs(pairs: PairsLike):
    if pairs is None:
        return None, None
    if isinstance(pairs, Candidates):
        return pairs.gt, pairs.pred
    g, p = pairs
    return g.long(), p.long()


def class_prob(probs: Tensor, gt_classes: Tensor, pairs: PairsLike = None) -> Tensor:
    """``p_hat_pi(i)(c_i)``: probability of each gt's class at each prediction. ``probs`` ``(N, K)``
    probabilities (e.g. DeFCN: ``sigmoid(cls) * sigmoid(filter)``; PSS: ``sigmoid(pss)*sigmoid(cls)*sigmoid(ctr)``).
    """
    g, p = _pairs(pairs)
    cls = gt_classes.long()
    if g is None:
        return as_float(probs[:, cls].t())  # (G, N); only G columns are gathered
    return as_float(probs[p, cls[g]])


def iou_quality(pred_boxes: Tensor, gt_boxes: Tensor, pairs: PairsLike = None) -> Tensor:
    """IoU(b_i, b_hat) between gt boxes and predicted (or pre-defined) boxes, xyxy; 0 without overlap."""
    g, p = _pairs(pairs)
    if g is None:
        return pairwise_iou(gt_boxes, pred_boxes)
    return elementwise_iou(gt_boxes[g], pred_boxes[p])


def combine_quality(prob: Tensor, iou: Tensor, alpha: float = 0.8, mode: str = "mul") -> Tensor:
    """POTO quality without the prior indicator.

    * ``"mul"`` - DeFCN Eq. 4 / PSS Eq. 3: ``prob^(1-alpha) * IoU^alpha`` (weighted geometric mean);
    * ``"add"`` - DeFCN Table 4 / PSS Table 8: ``(1-alpha) * prob + alpha * IoU``.
    """
    prob = as_float(prob)
    iou = as_float(iou)
    if mode == "mul":
        return prob.pow(1.0 - alpha) * iou.pow(alpha)
    if mode == "add":
        return (1.0 - alpha) * prob + alpha * iou
    raise ValueError(f"unknown quality mode {mode!r} (use 'mul' or 'add')")


def poto_quality(
    probs: Tensor,
    pred_boxes: Tensor,
    gt_boxes: Tensor,
    gt_classes: Tensor,
    pairs: PairsLike = None,
    *,
    alpha: float = 0.8,
    mode: str = "mul",
) -> Tensor:
    """DeFCN Eq. 4 (PSS Eq. 3) on the candidate pairs: the ``1[pi(i) in Omega_i]`` factor is the
    candidate set itself (``pairs``); outside pairs get the solver's ``outside`` value (-1 in the
    reference). Dense ``(G, N)`` when ``pairs`` is None (global prior)."""
    return combine_quality(
        class_prob(probs, gt_classes, pairs),
        iou_quality(pred_boxes, gt_boxes, pairs),
        alpha=alpha,
        mode=mode,
    )


def _focal_terms(p: Tensor, alpha: float, gamma: float, eps: float):
    pos = alpha * (1 - p).pow(gamma) * (-(p + eps).log())
    neg = (1 - alpha) * p.pow(gamma) * (-(1 - p + eps).log())
    return pos, neg


def focal_class_cost(
    probs: Tensor,
    gt_classes: Tensor,
    pairs: PairsLike = None,
    *,
    alpha: float = 0.25,
    gamma: float = 2.0,
    eps: float = 1e-8,
) -> Tensor:
    """Focal classification cost at the gt class ("What Makes" Sec. 3.2 / OneNet ``cost_class``;
    Deformable-DETR style): ``alpha (1-p)^gamma (-log(p+eps)) - (1-alpha) p^gamma (-log(1-p+eps))``.

    ``probs`` ``(N, K)`` are probabilities (``sigmoid(logits)``)."""
    p = class_prob(probs, gt_classes, pairs)
    pos, neg = _focal_terms(p, alpha, gamma, eps)
    return pos - neg


def focal_loss_cost(
    probs: Tensor,
    gt_classes: Tensor,
    pairs: PairsLike = None,
    *,
    alpha: float = 0.25,
    gamma: float = 2.0,
    eps: float = 1e-8,
) -> Tensor:
    """Sigmoid focal loss of a prediction summed over all K classes with the one-hot target of the gt class
    (DeFCN Eq. 2 "foreground loss" classification part; defcn.md §3.7 ``loss`` variant):
    ``sum_k neg_k + (pos_c - neg_c)``. O(N K + M) on pairs."""
    pf = as_float(probs)
    _, neg_all = _focal_terms(pf, alpha, gamma, eps)
    neg_sum = neg_all.sum(dim=1)  # (N,)
    p = class_prob(pf, gt_classes, pairs)
    pos, neg = _focal_terms(p, alpha, gamma, eps)
    g, pi = _pairs(pairs)
    base = neg_sum[None, :] if g is None else neg_sum[pi]
    return base + pos - neg


def giou_cost(pred_boxes: Tensor, gt_boxes: Tensor, pairs: PairsLike = None) -> Tensor:
    """``C_giou = -GIoU(b_i, b_hat)`` ("What Makes" / OneNet). DeFCN's foreground loss uses ``1 - GIoU``
    (same minimiser, +1 per matched pair)."""
    g, p = _pairs(pairs)
    if g is None:
        return -pairwise_giou(gt_boxes, pred_boxes)
    return -elementwise_giou(gt_boxes[g], pred_boxes[p])


def _normalise(boxes: Tensor, normalizer) -> Tensor:
    b = as_float(boxes)
    if normalizer is None:
        return b
    if not isinstance(normalizer, Tensor):
        normalizer = torch.as_tensor(normalizer, dtype=b.dtype, device=b.device)
    return b / normalizer.to(b.device, b.dtype)


def l1_cost(
    pred_boxes: Tensor,
    gt_boxes: Tensor,
    pairs: PairsLike = None,
    *,
    normalizer: Optional[Union[Tensor, Sequence[float]]] = None,
) -> Tensor:
    """L1 distance between box vectors. OneNet: xyxy boxes divided by ``[w, h, w, h]`` of the unpadded image
    (pass ``normalizer=(w, h, w, h)``)."""
    a = _normalise(gt_boxes, normalizer)
    b = _normalise(pred_boxes, normalizer)
    g, p = _pairs(pairs)
    if g is None:
        return torch.cdist(a, b, p=1)
    return (a[g] - b[p]).abs().sum(dim=1)


def cxcywh_l1_cost(pred_boxes: Tensor, gt_boxes: Tensor, pairs: PairsLike = None) -> Tensor:
    """YOLOF Uniform Matching cost: L1 distance over ``(cx, cy, w, h)`` (``torch.cdist(p=1)``, fp32)."""
    return l1_cost(box_xyxy_to_cxcywh(pred_boxes), box_xyxy_to_cxcywh(gt_boxes), pairs)


def center_distance(pred: Tensor, gt_boxes: Tensor, pairs: PairsLike = None) -> Tensor:
    """Euclidean distance between gt centres and prediction centres (``pred`` are ``(N, 2)`` points or
    ``(N, 4)`` boxes). ATSS candidates / DeFCN "Center" rule."""
    pc = as_float(pred) if pred.shape[-1] == 2 else box_centers(pred)
    gc = box_centers(gt_boxes)
    g, p = _pairs(pairs)
    if g is None:
        return torch.cdist(gc, pc)
    return (gc[g] - pc[p]).norm(dim=1)


def onenet_cost(
    probs: Tensor,
    pred_boxes: Tensor,
    gt_boxes: Tensor,
    gt_classes: Tensor,
    image_size: Tuple[int, int],
    pairs: PairsLike = None,
    *,
    weight_class: float = 2.0,
    weight_l1: float = 5.0,
    weight_giou: float = 2.0,
    alpha: float = 0.25,
    gamma: float = 2.0,
) -> Tensor:
    """ "What Makes" Eq. 2-5 / OneNet: ``lambda_cls * C_cls + lambda_L1 * C_L1 + lambda_giou * C_giou``.

    * ``C_cls`` = :func:`focal_class_cost` at the gt class (``probs`` = sigmoid of the logits);
    * ``C_L1`` = L1 over xyxy divided by ``[w, h, w, h]`` of the unpadded image (``image_size = (h, w)``,
      detectron2 order);
    * ``C_giou`` = ``-GIoU`` on absolute boxes.

    ``pred_boxes`` are the predicted boxes or, for the location-cost ablations, the pre-defined anchor /
    point boxes. ``weight_class=0`` gives the location-only cost (``probs`` may then be ``None``).
    """
    h, w = image_size
    norm = (float(w), float(h), float(w), float(h))
    c = weight_l1 * l1_cost(pred_boxes, gt_boxes, pairs, normalizer=norm) + weight_giou * giou_cost(
        pred_boxes, gt_boxes, pairs
    )
    if weight_class != 0:
        c = c + weight_class * focal_class_cost(probs, gt_classes, pairs, alpha=alpha, gamma=gamma)
    return c


def foreground_loss_cost(
    probs: Tensor,
    pred_boxes: Tensor,
    gt_boxes: Tensor,
    gt_classes: Tensor,
    pairs: PairsLike = None,
    *,
    weight_giou: float = 2.0,
    alpha: float = 0.25,
    gamma: float = 2.0,
) -> Tensor:
    """DeFCN Eq. 2 matching cost = the foreground loss: ``sum_K focal(p, onehot(c_i)) + 2 (1 - GIoU)``."""
    return focal_loss_cost(probs, gt_classes, pairs, alpha=alpha, gamma=gamma) + weight_giou * (
        1.0 + giou_cost(pred_boxes, gt_boxes, pairs)
    )
