"""Spatial priors / candidate sets ``Omega`` and the classic one-to-many assignments built on them.

Points are the ``(x, y)`` centres of the dense predictions, level-major (P3 first), row-major inside a
level, as detectron2's ``permute_to_N_HWA_K`` and cvpods' ``ShiftGenerator`` produce them. Levels are
given by ``num_points_per_level`` (list of ints) or inferred from runs of equal ``strides``.

Every point-in-region test is strict (``min(l, t, r, b) > 0``), like the references: a point exactly on
an edge is outside.

Sparse enumeration: when a level's points lie on a (possibly incomplete) regular grid - always the case
for FPN points and anchors - the candidate pairs are enumerated directly from per-gt index ranges
(``searchsorted`` on the level's sorted unique x and y) in ``O(G log N + #pairs)`` on the input device,
never building a ``(G, N)`` matrix. Other point sets fall back to a chunked dense test.
"""

from __future__ import annotations

import math
from typing import List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from .boxes import as_float, box_area, box_centers, elementwise_iou, elementwise_ltrb
from .structures import BACKGROUND, IGNORE, Assignment, Candidates, labels_from_pairs
from .solvers import segment_best

__all__ = [
    "FCOS_SCALE_RANGES",
    "level_slices",
    "region_candidates",
    "center_sampling_prior",
    "inside_box_prior",
    "global_prior",
    "fcos_prior",
    "fcos_assign",
    "atss_prior",
    "atss_assign",
    "max_iou_assign",
    "exclusive_by",
    "gt_fpn_levels",
    "fpn_level_prior",
]

#: FCOS size-of-interest per level P3..P7 (max of the point-to-gt ltrb distances), inclusive bounds
#: (FCOS / AdelaiDet / mmdet convention; mmdet writes the first lower bound as -1).
FCOS_SCALE_RANGES: Tuple[Tuple[float, float], ...] = (
    (0.0, 64.0),
    (64.0, 128.0),
    (128.0, 256.0),
    (256.0, 512.0),
    (512.0, math.inf),
)

StridesLike = Union[Tensor, Sequence[float], float, None]


def level_slices(
    num_points: int,
    strides: StridesLike = None,
    num_points_per_level: Optional[Sequence[int]] = None,
) -> List[Tuple[int, int, float]]:
    """``[(start, end, stride), ...]`` per level.

    ``strides`` may be a per-point ``(R,)`` tensor, a per-level sequence, a single number or ``None``
    (stride unknown, reported as ``nan``; fine for priors that do not need it).
    """
    if num_points_per_level is None:
        if (
            isinstance(strides, Tensor)
            and strides.dim() == 1
            and strides.numel() == num_points
            and num_points
        ):
            vals, counts = torch.unique_consecutive(strides, return_counts=True)
            num_points_per_level = counts.tolist()
            per_level = vals.tolist()
        else:
            num_points_per_level = [num_points]
            per_level = None
    else:
        num_points_per_level = [int(n) for n in num_points_per_level]
        if sum(num_points_per_level) != num_points:
            raise ValueError(
                f"num_points_per_level sums to {sum(num_points_per_level)}, expected {num_points}"
            )
        per_level = None
    starts = [0]
    for n in num_points_per_level:
        starts.append(starts[-1] + n)
    if per_level is None:
        if strides is None:
            per_level = [math.nan] * len(num_points_per_level)
        elif isinstance(strides, (int, float)):
            per_level = [float(strides)] * len(num_points_per_level)
        elif isinstance(strides, Tensor) and strides.dim() == 1 and strides.numel() == num_points:
            idx = [s if s < num_points else 0 for s in starts[:-1]]
            per_level = (
                strides[torch.as_tensor(idx, device=strides.device)].tolist() if num_points else []
            )
            per_level = [float(v) for v in per_level] + [math.nan] * (
                len(num_points_per_level) - len(per_level)
            )
        else:
            per_level = [
                float(v) for v in (strides.tolist() if isinstance(strides, Tensor) else strides)
            ]
            if len(per_level) != len(num_points_per_level):
                raise ValueError("per-level strides and num_points_per_level differ in length")
    return [
        (starts[i], starts[i + 1], float(per_level[i])) for i in range(len(num_points_per_level))
    ]


def _grid_index(points: Tensor):
    """Describe a level's points as a grid: ``(ux, uy, lookup, row_major)`` with ``ux``/``uy`` the sorted
    distinct x / y values, ``lookup(row, col) -> point index or -1`` and whether point indices are row-major
    (monotone in ``(row, col)``); ``None`` if the points are not a grid."""
    n = points.shape[0]
    x, y = points[:, 0], points[:, 1]
    # fast path: complete row-major grid (ShiftGenerator / detectron2 anchor centres with A = 1)
    W = int((y == y[0]).sum())
    if W > 0 and n % W == 0:
        H = n // W
        ux, uy = x[:W].contiguous(), y[::W].contiguous()
        if (
            (W == 1 or bool((ux[1:] > ux[:-1]).all()))
            and (H == 1 or bool((uy[1:] > uy[:-1]).all()))
            and bool((x.view(H, W) == ux[None, :]).all())
            and bool((y.view(H, W) == uy[:, None]).all())
        ):
            return ux, uy, lambda row, col: row * W + col, True
    # general grid (incomplete, any order): lookup table over the distinct coordinates
    ux, ix = torch.unique(x, return_inverse=True)
    uy, iy = torch.unique(y, return_inverse=True)
    Ux, Uy = ux.numel(), uy.numel()
    if Ux * Uy > 4 * n + 64:
        return None
    table = torch.full((Uy * Ux,), -1, dtype=torch.long, device=points.device)
    table[iy * Ux + ix] = torch.arange(n, device=points.device)
    if int((table >= 0).sum()) != n:  # duplicate points (e.g. several anchors per location)
        return None
    return ux, uy, lambda row, col: table[row * Ux + col], False


def _grid_points_in_regions(
    points: Tensor, regions: Tensor, chunk: int = 1 << 22
) -> Tuple[Tensor, Tensor]:
    """Pairs (region index, point index) with the point strictly inside the region, sorted by region
    then point index. ``points`` (n, 2) float32, ``regions`` (G, 4) float32 xyxy."""
    device = points.device
    n, G = points.shape[0], regions.shape[0]
    empty = torch.zeros(0, dtype=torch.long, device=device)
    if n == 0 or G == 0:
        return empty, empty.clone()
    grid = _grid_index(points)
    if grid is not None:
        ux, uy, lookup, row_major = grid
        r = regions.contiguous()
        x0 = torch.searchsorted(ux, r[:, 0].contiguous(), right=True)  # first x > region x0
        x1 = torch.searchsorted(ux, r[:, 2].contiguous(), right=False)  # first x >= region x1
        y0 = torch.searchsorted(uy, r[:, 1].contiguous(), right=True)
        y1 = torch.searchsorted(uy, r[:, 3].contiguous(), right=False)
        nx = (x1 - x0).clamp(min=0)
        ny = (y1 - y0).clamp(min=0)
        cnt = nx * ny
        cs = torch.cumsum(cnt, 0)
        total = int(cs[-1])
        if total == 0:
            return empty, empty.clone()
        # (torch.repeat_interleave with a tensor of repeats is very slow on CPU in recent torch)
        ar = torch.arange(total, device=device)
        gid = torch.searchsorted(cs, ar, right=True)
        off = ar - (cs - cnt)[gid]
        nxg = nx[gid]
        col = x0[gid] + off % nxg
        row = y0[gid] + torch.div(off, nxg, rounding_mode="floor")
        local = lookup(row, col)
        keep = local >= 0
        if not bool(keep.all()):
            gid, local = gid[keep], local[keep]
        if (
            row_major
        ):  # enumeration is region-major, then row-major: already sorted by (region, point)
            return gid, local
        key, _ = torch.sort(gid * n + local)
        return torch.div(key, n, rounding_mode="floor"), key % n
    # generic fallback: chunked dense test
    outs_g, outs_p = [], []
    step = max(1, chunk // max(n, 1))
    x, y = points[:, 0], points[:, 1]
    for s in range(0, G, step):
        r = regions[s : s + step]
        m = (
            (x[None] > r[:, 0:1])
            & (x[None] < r[:, 2:3])
            & (y[None] > r[:, 1:2])
            & (y[None] < r[:, 3:4])
        )
        g, p = torch.nonzero(m, as_tuple=True)
        outs_g.append(g + s)
        outs_p.append(p)
    return torch.cat(outs_g), torch.cat(outs_p)


def region_candidates(
    points: Tensor, regions_per_level, levels: List[Tuple[int, int, float]], num_gt: int
) -> Candidates:
    """Candidates from per-level regions: ``regions_per_level(stride) -> (G, 4)`` xyxy region of each gt
    on a level with that stride; a point of the level is a candidate iff strictly inside."""
    pts = as_float(points)
    device = pts.device
    R = pts.shape[0]
    gs, ps = [], []
    for start, end, stride in levels:
        if end <= start or num_gt == 0:
            continue
        regions = regions_per_level(stride)
        g, p = _grid_points_in_regions(pts[start:end], regions)
        gs.append(g)
        ps.append(p + start)
    if not gs:
        return Candidates.empty(num_gt, R, device)
    g = torch.cat(gs)
    p = torch.cat(ps)
    if len(gs) > 1:
        key, _ = torch.sort(g * max(R, 1) + p)
        g, p = torch.div(key, max(R, 1), rounding_mode="floor"), key % max(R, 1)
    return Candidates(g, p, num_gt, R)


def _apply_scale_ranges(
    cand: Candidates, points: Tensor, gt_boxes: Tensor, levels, scale_ranges
) -> Candidates:
    if scale_ranges is None or len(cand) == 0:
        return cand
    if len(scale_ranges) != len(levels):
        raise ValueError(f"{len(scale_ranges)} scale ranges for {len(levels)} levels")
    device = cand.gt.device
    bounds = torch.empty(cand.num_pred, 2, device=device)
    for (start, end, _), (lo, hi) in zip(levels, scale_ranges):
        bounds[start:end, 0] = float(lo)
        bounds[start:end, 1] = float(hi)
    ltrb = elementwise_ltrb(as_float(points)[cand.pred], as_float(gt_boxes)[cand.gt])
    m = ltrb.max(dim=1).values
    b = bounds[cand.pred]
    return cand.select((m >= b[:, 0]) & (m <= b[:, 1]))


@torch.no_grad()
def center_sampling_prior(
    points: Tensor,
    gt_boxes: Tensor,
    strides: StridesLike,
    radius: float = 1.5,
    *,
    num_points_per_level: Optional[Sequence[int]] = None,
    scale_ranges: Optional[Sequence[Tuple[float, float]]] = None,
) -> Candidates:
    """FCOS centre sampling (DeFCN POTO prior, Sec. 3.1.2 "center sampling"; defcn.md §3.4).

    On a level of stride ``s`` the region of a gt is the square ``[cx - radius*s, cx + radius*s] x
    [cy - radius*s, cy + radius*s]`` around the gt centre, clipped to the gt box; a point of that level is a
    candidate iff strictly inside. ``radius=0`` means "inside the gt box" (DeFCN CrowdHuman configs).
    Every level competes unless ``scale_ranges`` (one ``(lo, hi)`` per level, inclusive, on the max of the
    point-to-gt ltrb distances - FCOS size of interest) is given.
    """
    gt = as_float(gt_boxes)
    levels = level_slices(points.shape[0], strides, num_points_per_level)
    if radius <= 0:
        cand = region_candidates(points, lambda s: gt, levels, gt.shape[0])
    else:
        ctr = box_centers(gt)

        def regions(s: float) -> Tensor:
            if math.isnan(s):
                raise ValueError("center sampling needs the stride of every level")
            rs = radius * s
            return torch.stack(
                (
                    torch.maximum(ctr[:, 0] - rs, gt[:, 0]),
                    torch.maximum(ctr[:, 1] - rs, gt[:, 1]),
                    torch.minimum(ctr[:, 0] + rs, gt[:, 2]),
                    torch.minimum(ctr[:, 1] + rs, gt[:, 3]),
                ),
                dim=1,
            )

        cand = region_candidates(points, regions, levels, gt.shape[0])
    return _apply_scale_ranges(cand, points, gt, levels, scale_ranges)


@torch.no_grad()
def inside_box_prior(
    points: Tensor,
    gt_boxes: Tensor,
    *,
    strides: StridesLike = None,
    num_points_per_level: Optional[Sequence[int]] = None,
    scale_ranges: Optional[Sequence[Tuple[float, float]]] = None,
) -> Candidates:
    """Point strictly inside the gt box ("inside box" prior, DeFCN Table 3; CrowdHuman configs). Give the
    levels (``strides`` per point or ``num_points_per_level``) for the fast per-level grid enumeration.
    """
    gt = as_float(gt_boxes)
    levels = level_slices(points.shape[0], strides, num_points_per_level)
    cand = region_candidates(points, lambda s: gt, levels, gt.shape[0])
    return _apply_scale_ranges(cand, points, gt, levels, scale_ranges)


def global_prior() -> None:
    """The "global" prior (DeFCN Table 3): every prediction is a candidate. Represented by ``None``
    (solvers then work on the dense score matrix)."""
    return None


@torch.no_grad()
def fcos_prior(
    points: Tensor,
    gt_boxes: Tensor,
    strides: StridesLike,
    *,
    num_points_per_level: Optional[Sequence[int]] = None,
    radius: float = 1.5,
    scale_ranges: Optional[Sequence[Tuple[float, float]]] = FCOS_SCALE_RANGES,
) -> Candidates:
    """FCOS one-to-many positives before the min-area tie-break (non-exclusive): centre sampling with
    ``radius`` (0 = inside box) and the per-level size of interest. This is PSS's ``Omega`` for FCOS_pss.
    """
    return center_sampling_prior(
        points,
        gt_boxes,
        strides,
        radius,
        num_points_per_level=num_points_per_level,
        scale_ranges=scale_ranges,
    )


def gt_fpn_levels(
    gt_boxes: Tensor, scale_ranges: Sequence[Tuple[float, float]] = FCOS_SCALE_RANGES
) -> Tensor:
    """Pre-defined FPN level of every gt: the first level whose FCOS range ``[lo, hi]`` (inclusive)
    contains ``max(w, h) / 2``, the max ltrb distance seen from the box centre. ``(G,)`` int64, -1 if no
    range holds it."""
    gt = as_float(gt_boxes)
    half = torch.maximum(gt[:, 2] - gt[:, 0], gt[:, 3] - gt[:, 1]) / 2
    lvl = torch.full((gt.shape[0],), -1, dtype=torch.long, device=gt.device)
    for i, (lo, hi) in reversed(list(enumerate(scale_ranges))):
        lvl = torch.where((half >= lo) & (half <= hi), torch.full_like(lvl, i), lvl)
    return lvl


@torch.no_grad()
def fpn_level_prior(
    gt_boxes: Tensor,
    num_points_per_level: Sequence[int],
    scale_ranges: Sequence[Tuple[float, float]] = FCOS_SCALE_RANGES,
) -> Candidates:
    """Every prediction of the gt's pre-defined FPN level (:func:`gt_fpn_levels`) is a candidate; no
    spatial test ("What Makes" Sec. 3.3: the FCOS positive "is chosen from the pre-defined layer in feature
    pyramids"). Dense per level: ``G x N_level`` pairs."""
    if len(scale_ranges) != len(num_points_per_level):
        raise ValueError(f"{len(scale_ranges)} scale ranges for {len(num_points_per_level)} levels")
    G = int(gt_boxes.shape[0])
    device = gt_boxes.device
    sizes = torch.as_tensor([int(n) for n in num_points_per_level], dtype=torch.long, device=device)
    starts = torch.cumsum(sizes, 0) - sizes
    R = int(sizes.sum())
    lvl = gt_fpn_levels(gt_boxes, scale_ranges)
    has_level = lvl >= 0
    cnt = torch.where(has_level, sizes[lvl.clamp(min=0)], torch.zeros_like(lvl))
    cs = torch.cumsum(cnt, 0)
    total = int(cs[-1]) if G else 0
    if total == 0:
        return Candidates.empty(G, R, device)
    ar = torch.arange(total, device=device)
    gid = torch.searchsorted(cs, ar, right=True)  # gt-major, so pairs are sorted by (gt, pred)
    pred = starts[lvl[gid]] + ar - (cs - cnt)[gid]
    return Candidates(gid, pred, G, R)


def exclusive_by(cand: Candidates, value: Tensor, largest: bool) -> Assignment:
    """Make a candidate set exclusive: a prediction that is a candidate of several gts keeps the gt with
    the best ``value`` (``(M,)`` per pair; ties: lowest gt index). Returns a one-to-many Assignment.
    """
    win = segment_best(cand.pred, value, cand.num_pred, largest=largest)
    keep, _ = torch.sort(win[win >= 0])
    # keep is in (gt, pred) order because candidates are sorted that way
    g, p = cand.gt[keep], cand.pred[keep]
    counts = (
        torch.bincount(g, minlength=cand.num_gt)[: cand.num_gt]
        if g.numel()
        else torch.zeros(cand.num_gt, dtype=torch.long, device=g.device)
    )
    return Assignment(
        gt_inds=g,
        pred_inds=p,
        labels=labels_from_pairs(g, p, cand.num_pred),
        num_gt=cand.num_gt,
        num_pred=cand.num_pred,
        num_unmatched_gt=int((counts == 0).sum()),
        scores=value[keep].float(),
    )


@torch.no_grad()
def fcos_assign(
    points: Tensor,
    gt_boxes: Tensor,
    strides: StridesLike,
    *,
    num_points_per_level: Optional[Sequence[int]] = None,
    radius: float = 1.5,
    scale_ranges: Optional[Sequence[Tuple[float, float]]] = FCOS_SCALE_RANGES,
) -> Assignment:
    """Standard FCOS one-to-many assignment: :func:`fcos_prior`, then a point inside several gts takes the
    one with the smallest area (ties: lowest gt index). ``labels``: gt index or -1 (no ignore)."""
    cand = fcos_prior(
        points,
        gt_boxes,
        strides,
        num_points_per_level=num_points_per_level,
        radius=radius,
        scale_ranges=scale_ranges,
    )
    area = box_area(gt_boxes)
    return exclusive_by(cand, area[cand.gt], largest=False)


@torch.no_grad()
def atss_prior(
    anchors: Tensor,
    gt_boxes: Tensor,
    num_anchors_per_level: Sequence[int],
    topk: int = 9,
    *,
    inside_eps: float = 0.01,
    return_iou: bool = False,
):
    """ATSS positives before the highest-IoU tie-break (non-exclusive) - ATSS_pss's ``Omega``.

    Per gt and level, the ``min(topk, anchors on level)`` anchors with the closest centre (L2); threshold
    = mean + std (unbiased; 0 when there is a single candidate) of the candidates' IoU; positive iff
    ``IoU >= threshold`` and the anchor centre is inside the gt with ``min(l, t, r, b) > inside_eps``
    (0.01 as in the official ATSS / mmdet). ``anchors`` ``(R, 4)`` xyxy (for anchor-free points, the square
    ``8 * stride`` box, as ATSS does). Returns Candidates (and their IoU if ``return_iou``).
    """
    a = as_float(anchors)
    gt = as_float(gt_boxes)
    G, R = gt.shape[0], a.shape[0]
    device = a.device
    if G == 0 or R == 0:
        c = Candidates.empty(G, R, device)
        return (c, torch.zeros(0, device=device)) if return_iou else c
    actr = box_centers(a)
    gctr = box_centers(gt)
    idx = []
    start = 0
    for n in num_anchors_per_level:
        n = int(n)
        if n > 0:
            d = torch.cdist(gctr, actr[start : start + n])  # (G, n) float32
            k = min(topk, n)
            idx.append(torch.topk(d, k, dim=1, largest=False).indices + start)
        start += n
    if start != R:
        raise ValueError("num_anchors_per_level does not sum to the number of anchors")
    cidx = torch.cat(idx, dim=1)  # (G, C)
    C = cidx.shape[1]
    g = torch.arange(G, device=device)[:, None].expand(G, C)
    iou = elementwise_iou(a[cidx.reshape(-1)], gt[g.reshape(-1)]).view(G, C)
    mean = iou.mean(dim=1, keepdim=True)
    std = iou.std(dim=1, keepdim=True) if C > 1 else torch.zeros_like(mean)
    thr = mean + std
    ltrb = elementwise_ltrb(actr[cidx.reshape(-1)], gt[g.reshape(-1)]).view(G, C, 4)
    inside = ltrb.min(dim=2).values > inside_eps
    pos = (iou >= thr) & inside
    gg, pp, vv = g[pos], cidx[pos], iou[pos]
    key = gg * R + pp
    key, o = torch.sort(key)
    c = Candidates(torch.div(key, R, rounding_mode="floor"), key % R, G, R)
    return (c, vv[o]) if return_iou else c


@torch.no_grad()
def atss_assign(
    anchors: Tensor,
    gt_boxes: Tensor,
    num_anchors_per_level: Sequence[int],
    topk: int = 9,
    *,
    inside_eps: float = 0.01,
) -> Assignment:
    """ATSS one-to-many assignment: :func:`atss_prior`, then an anchor positive for several gts takes the
    one with the highest IoU (ties: lowest gt index). ``topk=15`` is YOLOF's best ATSS (Table 5e/Table 8).
    """
    cand, iou = atss_prior(
        anchors, gt_boxes, num_anchors_per_level, topk, inside_eps=inside_eps, return_iou=True
    )
    return exclusive_by(cand, iou, largest=True)


@torch.no_grad()
def max_iou_assign(
    anchors: Tensor,
    gt_boxes: Tensor,
    pos_thresh: float = 0.5,
    neg_thresh: float = 0.4,
    *,
    allow_low_quality: bool = True,
) -> Assignment:
    """RetinaNet Max-IoU (detectron2 ``Matcher([0.4, 0.5], [0, -1, 1], allow_low_quality_matches=True)``).

    Each anchor takes its max-IoU gt (ties: lowest index): positive if ``IoU >= pos_thresh``, background
    if ``IoU < neg_thresh``, ignored in between. With ``allow_low_quality``, every anchor whose IoU with
    some gt equals that gt's best IoU becomes positive (still labelled with its own argmax gt, as in
    detectron2). Deviation: a gt whose best IoU is 0 creates no low-quality match (detectron2 would turn
    every zero-IoU anchor positive). Dense ``(G, R)`` float32 IoU (anchors are few in YOLOF).
    """
    from .boxes import pairwise_iou

    a = as_float(anchors)
    gt = as_float(gt_boxes)
    G, R = gt.shape[0], a.shape[0]
    device = a.device
    if G == 0 or R == 0:
        e = torch.zeros(0, dtype=torch.long, device=device)
        return Assignment(
            e, e.clone(), torch.full((R,), BACKGROUND, dtype=torch.long, device=device), G, R, G
        )
    iou = pairwise_iou(gt, a)  # (G, R)
    best, arg = iou.max(dim=0)
    labels = torch.where(best >= pos_thresh, arg, torch.full_like(arg, BACKGROUND))
    labels = torch.where(
        (best >= neg_thresh) & (best < pos_thresh), torch.full_like(arg, IGNORE), labels
    )
    if allow_low_quality:
        gbest = iou.max(dim=1, keepdim=True).values
        lq = ((iou == gbest) & (gbest > 0)).any(dim=0)
        labels = torch.where(lq, arg, labels)
    p = torch.nonzero(labels >= 0, as_tuple=True)[0]
    g = labels[p]
    o = torch.argsort(g * R + p)
    g, p = g[o], p[o]
    counts = torch.bincount(g, minlength=G)[:G]
    return Assignment(g, p, labels, G, R, int((counts == 0).sum()), scores=iou[g, p])
