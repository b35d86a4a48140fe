"""One-call assigners for the four methods (per image; see :func:`per_image` for lists of images).

All return an :class:`~matchcost.structures.Assignment` on the device of the inputs, with
``labels[r]`` = matched gt index, ``BACKGROUND`` (-1) or ``IGNORE`` (-2); use
``Assignment.class_targets(gt_classes, K)`` for detectron2-style class targets (K = background, -1 = ignore).
All run under ``torch.no_grad()``.
"""

from __future__ import annotations

from typing import Callable, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from .boxes import as_float, box_centers, box_xyxy_to_cxcywh, elementwise_iou, pairwise_iou
from .costs import class_prob, combine_quality, foreground_loss_cost, iou_quality, onenet_cost
from .priors import (
    FCOS_SCALE_RANGES,
    StridesLike,
    center_sampling_prior,
    exclusive_by,
    gt_fpn_levels,
    level_slices,
    region_candidates,
)
from .solvers import argmax_assign, hungarian, top1_per_gt
from .structures import BACKGROUND, IGNORE, Assignment, Candidates, CandidatesLike, as_candidates

__all__ = [
    "poto_assign",
    "pss_assign",
    "foreground_loss_assign",
    "anchor_rule_assign",
    "center_rule_assign",
    "defcn_aux_assign",
    "onenet_assign",
    "uniform_assign",
    "point_anchors",
    "per_image",
]

PriorLike = Union[str, Candidates, Tensor, None]


def _empty_assignment(G: int, R: int, device, unmatched: str = "drop") -> Assignment:
    e = torch.zeros(0, dtype=torch.long, device=device)
    forced = torch.zeros(0, dtype=torch.bool, device=device) if unmatched == "reference" else None
    return Assignment(
        e,
        e.clone(),
        torch.full((R,), BACKGROUND, dtype=torch.long, device=device),
        G,
        R,
        G,
        scores=torch.zeros(0, device=device),
        forced=forced,
    )


def _resolve_prior(
    prior: PriorLike, points, gt_boxes, strides, num_points_per_level, radius, scale_ranges, G, R
):
    if prior is None or isinstance(prior, (Candidates, Tensor, tuple)):
        return as_candidates(prior, G, R)
    if points is None:
        raise ValueError(f"prior={prior!r} needs the point coordinates")
    if prior == "center":
        return center_sampling_prior(
            points,
            gt_boxes,
            strides,
            radius,
            num_points_per_level=num_points_per_level,
            scale_ranges=scale_ranges,
        )
    if prior == "inside":
        return center_sampling_prior(
            points,
            gt_boxes,
            strides,
            0.0,
            num_points_per_level=num_points_per_level,
            scale_ranges=scale_ranges,
        )
    if prior == "global":
        if scale_ranges is not None:
            raise ValueError(
                "scale_ranges with the global prior: use prior='inside' or pass candidates"
            )
        return None
    raise ValueError(
        f"unknown prior {prior!r} (center | inside | global | Candidates | (G, N) bool mask)"
    )


@torch.no_grad()
def poto_assign(
    probs: Tensor,
    pred_boxes: Tensor,
    gt_boxes: Tensor,
    gt_classes: Tensor,
    *,
    points: Optional[Tensor] = None,
    strides: StridesLike = None,
    num_points_per_level: Optional[Sequence[int]] = None,
    prior: PriorLike = "center",
    radius: float = 1.5,
    scale_ranges: Optional[Sequence[Tuple[float, float]]] = None,
    alpha: float = 0.8,
    mode: str = "mul",
    solver: str = "hungarian",
    unmatched: str = "drop",
    outside: float = -1.0,
) -> Assignment:
    """DeFCN POTO (Eq. 3-4): maximise ``sum_i Q_{i, pi(i)}``, ``Q = 1[prior] * p^(1-alpha) * IoU^alpha``.

    Args:
        probs: ``(R, K)`` class probabilities (DeFCN: ``sigmoid(cls) * sigmoid(filter)``).
        pred_boxes: ``(R, 4)`` predicted xyxy boxes; gt_boxes ``(G, 4)``; gt_classes ``(G,)`` int64.
        points, strides, num_points_per_level: point coordinates ``(R, 2)`` and levels (for the priors).
        prior: ``"center"`` (centre sampling, ``radius`` strides, clipped to the box; COCO 1.5),
            ``"inside"`` (strictly inside the box; CrowdHuman), ``"global"``, or the caller's candidate set
            (``Candidates`` / ``(G, R)`` bool mask - PSS's ``Omega``).
        scale_ranges: optional FCOS size-of-interest per level (``FCOS_SCALE_RANGES``); the reference has none.
        mode: ``"mul"`` (Eq. 4) or ``"add"`` (Table 4).
        solver: ``"hungarian"`` (exact, = scipy on the dense matrix) or ``"argmax"`` (each gt its best
            candidate, conflicts won by the highest Q, losers unmatched).
        unmatched: ``"drop"`` (default): a gt without a candidate gets no positive (counted in
            ``num_unmatched_gt``). ``"reference"``: like DeFCN, match it to the lowest-index free point with
            ``Q = outside`` (a foreground point outside its box, negative regression targets).
        outside: ``Q`` outside the prior in the equivalent dense problem (reference -1).
    """
    G, R = int(gt_boxes.shape[0]), int(pred_boxes.shape[0])
    cand = _resolve_prior(
        prior, points, gt_boxes, strides, num_points_per_level, radius, scale_ranges, G, R
    )
    if G == 0 or R == 0:
        return _empty_assignment(G, R, pred_boxes.device, unmatched)
    q = combine_quality(
        class_prob(probs, gt_classes, cand), iou_quality(pred_boxes, gt_boxes, cand), alpha, mode
    )
    if solver == "hungarian":
        return hungarian(q, cand, maximize=True, outside=outside, unmatched=unmatched)
    if solver == "argmax":
        return argmax_assign(q, cand, maximize=True, outside=outside, unmatched=unmatched)
    raise ValueError(f"unknown solver {solver!r} (hungarian | argmax)")


@torch.no_grad()
def pss_assign(
    probs: Tensor,
    pred_boxes: Tensor,
    gt_boxes: Tensor,
    gt_classes: Tensor,
    omega: CandidatesLike,
    *,
    alpha: float = 0.8,
    mode: str = "mul",
    solver: str = "hungarian",
) -> Assignment:
    """PSS one-to-one assignment (PSS Eq. 3, Sec. 3.3): POTO quality restricted to the detector's own
    one-to-many positives ``omega`` (``(G, R)`` bool mask or :class:`Candidates`, e.g. from
    :func:`~matchcost.priors.fcos_prior` / :func:`~matchcost.priors.atss_prior`). ``solver="argmax"`` is the
    paper's "top-one selection" with conflicts won by the highest quality; use
    :func:`~matchcost.solvers.top1_per_gt` for top-1 with duplicates. A gt with an empty ``omega`` gets no
    positive."""
    return poto_assign(
        probs, pred_boxes, gt_boxes, gt_classes, prior=omega, alpha=alpha, mode=mode, solver=solver
    )


@torch.no_grad()
def foreground_loss_assign(
    probs: Tensor,
    pred_boxes: Tensor,
    gt_boxes: Tensor,
    gt_classes: Tensor,
    *,
    points: Optional[Tensor] = None,
    strides: StridesLike = None,
    num_points_per_level: Optional[Sequence[int]] = None,
    prior: PriorLike = "center",
    radius: float = 1.5,
    scale_ranges=None,
    weight_giou: float = 2.0,
    alpha: float = 0.25,
    gamma: float = 2.0,
    outside_cost: Optional[float] = 1e8,
    unmatched: str = "drop",
) -> Assignment:
    """DeFCN Eq. 2 / Table 1 "Foreground loss": min-cost Hungarian with cost
    ``sum_K focal(p, onehot) + 2 (1 - GIoU)``; pairs outside the prior cost ``outside_cost`` (1e8 in the
    reference, i.e. a gt is matched outside its prior only if it cannot get a candidate)."""
    G, R = int(gt_boxes.shape[0]), int(pred_boxes.shape[0])
    cand = _resolve_prior(
        prior, points, gt_boxes, strides, num_points_per_level, radius, scale_ranges, G, R
    )
    if G == 0 or R == 0:
        return _empty_assignment(G, R, pred_boxes.device, unmatched)
    c = foreground_loss_cost(
        probs,
        pred_boxes,
        gt_boxes,
        gt_classes,
        cand,
        weight_giou=weight_giou,
        alpha=alpha,
        gamma=gamma,
    )
    return hungarian(c, cand, maximize=False, outside=outside_cost, unmatched=unmatched)


def point_anchors(
    points: Tensor,
    strides: StridesLike,
    anchor_scale: float = 8.0,
    num_points_per_level: Optional[Sequence[int]] = None,
) -> Tensor:
    """One square anchor per point, side ``anchor_scale * stride`` (``(R, 4)`` xyxy). ``anchor_scale=8`` is
    ATSS's single anchor (octave base scale 8); RetinaNet's smallest 1:1 anchor is ``4 * stride``.
    """
    pts = as_float(points)
    if isinstance(strides, Tensor) and strides.dim() == 1 and strides.numel() == pts.shape[0]:
        s = as_float(strides).to(pts.device)
    else:
        s = torch.empty(pts.shape[0], device=pts.device)
        for start, end, st in level_slices(pts.shape[0], strides, num_points_per_level):
            s[start:end] = st
    half = (anchor_scale * s / 2)[:, None]
    return torch.cat((pts - half, pts + half), dim=1)


@torch.no_grad()
def anchor_rule_assign(
    points: Tensor,
    gt_boxes: Tensor,
    strides: StridesLike,
    *,
    num_points_per_level: Optional[Sequence[int]] = None,
    anchor_scale: float = 8.0,
) -> Assignment:
    """DeFCN Table 1 hand-designed one-to-one "Anchor" rule: each gt takes the anchor with the maximum IoU,
    anchors being one square box of side ``anchor_scale * stride`` centred at every point (one 1:1 anchor per
    location). Conflicts (two gts, same best anchor): the higher IoU wins, the other gt is unmatched. A gt
    that overlaps no anchor is unmatched. Sparse: only anchors overlapping the gt are scored."""
    G, R = int(gt_boxes.shape[0]), int(points.shape[0])
    if G == 0 or R == 0:
        return _empty_assignment(G, R, points.device)
    gt = as_float(gt_boxes)
    levels = level_slices(R, strides, num_points_per_level)
    anchors = point_anchors(
        points, [lv[2] for lv in levels], anchor_scale, [lv[1] - lv[0] for lv in levels]
    )

    def regions(
        s: float,
    ) -> Tensor:  # anchor centre strictly inside the gt grown by half the anchor side
        h = anchor_scale * s / 2
        return torch.stack((gt[:, 0] - h, gt[:, 1] - h, gt[:, 2] + h, gt[:, 3] + h), dim=1)

    cand = region_candidates(points, regions, levels, G)
    iou = elementwise_iou(gt[cand.gt], anchors[cand.pred])
    keep = iou > 0
    cand, iou = cand.select(keep), iou[keep]
    return argmax_assign(iou, cand, maximize=True)


@torch.no_grad()
def center_rule_assign(
    points: Tensor,
    gt_boxes: Tensor,
    strides: StridesLike = None,
    *,
    num_points_per_level: Optional[Sequence[int]] = None,
    scale_ranges: Sequence[Tuple[float, float]] = FCOS_SCALE_RANGES,
) -> Assignment:
    """DeFCN Table 1 hand-designed one-to-one "Center" rule: each gt takes the point closest (L2) to its centre
    on its pre-defined FPN level. The level is the first one whose FCOS range ``[lo, hi]`` contains
    ``max(w, h) / 2`` (the max ltrb distance seen from the box centre). Conflicts: the closer gt wins (ties:
    lowest gt index), the other is unmatched. Ties in distance: lowest point index."""
    G, R = int(gt_boxes.shape[0]), int(points.shape[0])
    if G == 0 or R == 0:
        return _empty_assignment(G, R, points.device)
    gt = as_float(gt_boxes)
    pts = as_float(points)
    levels = level_slices(R, strides, num_points_per_level)
    if len(scale_ranges) != len(levels):
        raise ValueError(f"{len(scale_ranges)} scale ranges for {len(levels)} levels")
    ctr = box_centers(gt)
    lvl = gt_fpn_levels(gt, scale_ranges)
    gs, ps, ds = [], [], []
    for i, (start, end, _) in enumerate(levels):
        gi = torch.nonzero(lvl == i, as_tuple=True)[0]
        if gi.numel() == 0 or end <= start:
            continue
        d = torch.cdist(ctr[gi], pts[start:end])
        dmin, arg = d.min(dim=1)
        gs.append(gi)
        ps.append(arg + start)
        ds.append(dmin)
    if not gs:
        return _empty_assignment(G, R, points.device)
    g, p, d = torch.cat(gs), torch.cat(ps), torch.cat(ds)
    o = torch.argsort(g)
    cand = Candidates(g[o], p[o], G, R)
    return argmax_assign(d[o], cand, maximize=False)


@torch.no_grad()
def defcn_aux_assign(
    cls_probs: Tensor,
    pred_boxes: Tensor,
    gt_boxes: Tensor,
    gt_classes: Tensor,
    points: Tensor,
    *,
    strides: StridesLike = None,
    num_points_per_level: Optional[Sequence[int]] = None,
    alpha: float = 0.8,
    mode: str = "mul",
    topk: int = 9,
) -> Assignment:
    """DeFCN auxiliary one-to-many rule (Sec. 3.2.3; defcn.md §4).

    ``cls_probs`` = ``sigmoid(cls)`` only (no 3DMF filter). Per gt and level, the ``min(topk, points on
    level)`` points with the highest quality (from *all* points, no prior) are candidates; threshold = mean +
    std (unbiased; 0 for a single candidate) of the candidates' quality; a candidate is foreground iff
    ``Q >= threshold`` and the point is strictly inside the gt box; a point foreground for several gts takes
    the highest Q (ties: lowest gt index). No ignore labels. Unlike the reference, 0 gts and levels with
    fewer than ``topk`` points work. Dense per level (``(G, N_level)`` float32).
    """
    G, R = int(gt_boxes.shape[0]), int(pred_boxes.shape[0])
    if G == 0 or R == 0:
        return _empty_assignment(G, R, pred_boxes.device)
    gt = as_float(gt_boxes)
    levels = level_slices(R, strides, num_points_per_level)
    idx, val = [], []
    for start, end, _ in levels:
        if end <= start:
            continue
        sl = slice(start, end)
        q = combine_quality(
            class_prob(cls_probs[sl], gt_classes), pairwise_iou(gt, pred_boxes[sl]), alpha, mode
        )
        v, i = torch.topk(q, min(topk, end - start), dim=1)
        idx.append(i + start)
        val.append(v)
    cidx = torch.cat(idx, dim=1)
    cq = torch.cat(val, dim=1)
    C = cidx.shape[1]
    thr = cq.mean(dim=1, keepdim=True) + (
        cq.std(dim=1, keepdim=True) if C > 1 else torch.zeros_like(cq[:, :1])
    )
    g = torch.arange(G, device=gt.device)[:, None].expand(G, C)
    pts = as_float(points)[cidx.reshape(-1)]
    gb = gt[g.reshape(-1)]
    inside = ((pts - gb[:, :2]).min(dim=1).values > 0) & ((gb[:, 2:] - pts).min(dim=1).values > 0)
    fg = (cq >= thr) & inside.view(G, C)
    gg, pp, qq = g[fg], cidx[fg], cq[fg]
    key, o = torch.sort(gg * R + pp)
    cand = Candidates(torch.div(key, R, rounding_mode="floor"), key % R, G, R)
    return exclusive_by(cand, qq[o], largest=True)


@torch.no_grad()
def onenet_assign(
    probs: Optional[Tensor],
    pred_boxes: Tensor,
    gt_boxes: Tensor,
    gt_classes: Tensor,
    image_size: Tuple[int, int],
    *,
    solver: str = "min_cost",
    candidates: CandidatesLike = None,
    weight_class: float = 2.0,
    weight_l1: float = 5.0,
    weight_giou: float = 2.0,
    alpha: float = 0.25,
    gamma: float = 2.0,
) -> Assignment:
    """ "What Makes for End-to-End Object Detection" / OneNet: minimum-cost assignment with
    ``C = 2 C_cls + 5 C_L1 + 2 C_giou`` (:func:`~matchcost.costs.onenet_cost`).

    ``solver="min_cost"``: each gt takes its ``argmin`` over predictions (Dec-2020 OneNet ``loss.py``; two gts
    may share a prediction - train on ``gt_inds``/``pred_inds``); ``"hungarian"``: exact one-to-one (OneNet
    HEAD ``loss_predefine.py``), equal to scipy ``linear_sum_assignment`` on the dense cost. ``pred_boxes`` may
    be pre-defined anchor / point boxes; ``weight_class=0`` is the location-only cost.
    ``image_size = (h, w)`` of the unpadded image (L1 normaliser). Dense ``(G, N)`` float32 cost.
    """
    G, N = int(gt_boxes.shape[0]), int(pred_boxes.shape[0])
    if G == 0 or N == 0:
        return _empty_assignment(G, N, pred_boxes.device)
    cand = as_candidates(candidates, G, N)
    c = onenet_cost(
        probs,
        pred_boxes,
        gt_boxes,
        gt_classes,
        image_size,
        cand,
        weight_class=weight_class,
        weight_l1=weight_l1,
        weight_giou=weight_giou,
        alpha=alpha,
        gamma=gamma,
    )
    if solver == "min_cost":
        return top1_per_gt(c, cand, maximize=False)
    if solver == "hungarian":
        return hungarian(c, cand, maximize=False, outside=None)
    raise ValueError(f"unknown solver {solver!r} (min_cost | hungarian)")


@torch.no_grad()
def uniform_assign(
    pred_boxes: Tensor,
    anchors: Tensor,
    gt_boxes: Tensor,
    *,
    k: int = 4,
    neg_ignore_thresh: float = 0.7,
    pos_ignore_thresh: float = 0.15,
    topk_on_cpu: bool = True,
) -> Assignment:
    """YOLOF Uniform Matching (Sec. 4.2; yolof.md §2), reference semantics.

    * cost = L1 over ``(cx, cy, w, h)`` (``torch.cdist(p=1)``, fp32) between gts and the *predicted* boxes,
      and separately the *anchors*; each gt takes its ``k`` nearest of each (``torch.topk`` on CPU like the
      reference, whose tie order it reproduces; ``topk_on_cpu=False`` keeps it on the device) -> ``2 k G``
      pairs, duplicates kept, in the reference's rank-major order: for rank r,
      ``[pred-top-r of gt 0..G-1, anchor-top-r of gt 0..G-1]`` (``gt_inds``/``pred_inds``).
    * ``pair_valid`` = ``IoU(anchor, gt) >= pos_ignore_thresh`` (pairs below are positive-ignored).
    * ``labels``: ``IGNORE`` where the predicted box has IoU > ``neg_ignore_thresh`` with some gt, else
      ``BACKGROUND``; then every pair writes its anchor in pair order (gt index if valid, ``IGNORE`` if not),
      the last write winning - the reference's CPU ``index_put_`` behaviour, made deterministic here.
    * Regression loss: GIoU over all valid pairs, duplicates counted; ``num_foreground`` counts unique
      anchors (as the reference). A gt with no valid pair (small boxes: anchor IoU < 0.15 for all 2k pairs)
      has no positive - counted in ``num_unmatched_gt``; it only acts through the negative-ignore rule.
    """
    pb = as_float(pred_boxes)
    an = as_float(anchors)
    gt = as_float(gt_boxes)
    G, R = gt.shape[0], an.shape[0]
    device = an.device
    labels = torch.full((R,), BACKGROUND, dtype=torch.long, device=device)
    e = torch.zeros(0, dtype=torch.long, device=device)
    if G == 0 or R == 0:
        return Assignment(
            e,
            e.clone(),
            labels,
            G,
            R,
            G,
            scores=torch.zeros(0, device=device),
            pair_valid=torch.zeros(0, dtype=torch.bool, device=device),
        )
    gc = box_xyxy_to_cxcywh(gt)
    c_pred = torch.cdist(box_xyxy_to_cxcywh(pb), gc, p=1)  # (R, G)
    c_anc = torch.cdist(box_xyxy_to_cxcywh(an), gc, p=1)
    kk = min(k, R)
    if topk_on_cpu:
        c_pred, c_anc = c_pred.cpu(), c_anc.cpu()
    i_pred = torch.topk(c_pred, kk, dim=0, largest=False).indices.to(device)  # (k, G)
    i_anc = torch.topk(c_anc, kk, dim=0, largest=False).indices.to(device)
    src = torch.cat((i_pred, i_anc), dim=1).reshape(-1)
    tgt = torch.arange(G, device=device).repeat(2).repeat(kk)
    pos_iou = elementwise_iou(an[src], gt[tgt])
    valid = pos_iou >= pos_ignore_thresh
    max_iou = pairwise_iou(gt, pb).max(dim=0).values
    labels[max_iou > neg_ignore_thresh] = IGNORE
    P = src.numel()
    last = torch.full((R,), -1, dtype=torch.long, device=device)
    last.scatter_reduce_(0, src, torch.arange(P, device=device), reduce="amax", include_self=True)
    touched = torch.nonzero(last >= 0, as_tuple=True)[0]
    lp = last[touched]
    labels[touched] = torch.where(valid[lp], tgt[lp], torch.full_like(lp, IGNORE))
    has_pos = torch.zeros(G, dtype=torch.bool, device=device)
    has_pos[tgt[valid]] = True
    return Assignment(
        gt_inds=tgt,
        pred_inds=src,
        labels=labels,
        num_gt=G,
        num_pred=R,
        num_unmatched_gt=int((~has_pos).sum()),
        scores=pos_iou,
        pair_valid=valid,
    )


def per_image(
    fn: Callable[..., Assignment],
    *per_image_args,
    per_image_kwargs: Optional[dict] = None,
    **shared,
) -> List[Assignment]:
    """Apply a per-image assigner over a batch. Positional arguments are lists with one entry per image
    (G may differ between images); ``per_image_kwargs`` maps keyword names to such lists; every other
    keyword argument is shared by all images.

    Example: ``per_image(poto_assign, probs_list, boxes_list, gt_boxes_list, gt_cls_list, points=pts,
    strides=strides, prior="center")``.
    """
    per_image_kwargs = per_image_kwargs or {}
    lens = {len(a) for a in per_image_args} | {len(v) for v in per_image_kwargs.values()}
    if len(lens) != 1:
        raise ValueError(f"per-image lists have different lengths {sorted(lens)}")
    n = lens.pop()
    return [
        fn(
            *(a[i] for a in per_image_args),
            **{k: v[i] for k, v in per_image_kwargs.items()},
            **shared,
        )
        for i in range(n)
    ]
