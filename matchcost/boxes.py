"""Box geometry used by the costs and priors.

Conventions
-----------
* Boxes are ``(x0, y0, x1, y1)`` ("xyxy") in absolute pixels unless a function says otherwise.
* Points are ``(x, y)``.
* Every function is vectorised torch and runs on the device of its inputs. Results are float32
  (fp16 / bf16 inputs are promoted, so that areas of large boxes do not overflow fp16).
* ``pairwise_*`` functions return a ``(G, N)`` matrix for ``G`` boxes against ``N`` boxes;
  ``elementwise_*`` functions take two ``(M, 4)`` tensors and return ``(M,)`` - use them on the sparse
  candidate pairs of a prior instead of building a dense matrix.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "as_float",
    "box_area",
    "box_xyxy_to_cxcywh",
    "box_cxcywh_to_xyxy",
    "box_centers",
    "pairwise_iou",
    "pairwise_giou",
    "elementwise_iou",
    "elementwise_giou",
    "point_box_ltrb",
    "elementwise_ltrb",
    "points_in_boxes",
]


def as_float(x: Tensor) -> Tensor:
    """Return ``x`` as a floating tensor of at least float32 precision (float64 stays float64)."""
    if x.dtype in (torch.float32, torch.float64):
        return x
    return x.float()


def box_area(boxes: Tensor) -> Tensor:
    """Area of xyxy boxes ``(..., 4) -> (...)``; degenerate boxes (x1 < x0) get a negative width, as in
    detectron2's ``Boxes.area``."""
    b = as_float(boxes)
    return (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])


def box_xyxy_to_cxcywh(boxes: Tensor) -> Tensor:
    b = as_float(boxes)
    x0, y0, x1, y1 = b.unbind(-1)
    return torch.stack(((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0), dim=-1)


def box_cxcywh_to_xyxy(boxes: Tensor) -> Tensor:
    b = as_float(boxes)
    cx, cy, w, h = b.unbind(-1)
    return torch.stack((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), dim=-1)


def box_centers(boxes: Tensor) -> Tensor:
    """``(..., 4) xyxy -> (..., 2)`` centres."""
    b = as_float(boxes)
    return torch.stack(((b[..., 0] + b[..., 2]) / 2, (b[..., 1] + b[..., 3]) / 2), dim=-1)


def _inter_union(a: Tensor, b: Tensor):
    """a, b broadcastable (..., 4). Returns intersection, union, and the enclosing-box corners."""
    lt = torch.maximum(a[..., :2], b[..., :2])
    rb = torch.minimum(a[..., 2:], b[..., 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = box_area(a) + box_area(b) - inter
    return inter, union


def _iou_from(inter: Tensor, union: Tensor) -> Tensor:
    # cvpods / detectron2 ``pairwise_iou``: IoU is 0 wherever the intersection is 0 (this also avoids 0/0
    # for degenerate boxes).
    return torch.where(
        inter > 0, inter / union.clamp(min=torch.finfo(inter.dtype).tiny), torch.zeros_like(inter)
    )


def pairwise_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """IoU matrix ``(G, N)`` between xyxy boxes ``(G, 4)`` and ``(N, 4)``; 0 where the boxes do not overlap."""
    a = as_float(boxes1)[:, None, :]
    b = as_float(boxes2)[None, :, :]
    inter, union = _inter_union(a, b)
    return _iou_from(inter, union)


def elementwise_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """IoU of corresponding rows of two ``(M, 4)`` xyxy tensors -> ``(M,)``."""
    inter, union = _inter_union(as_float(boxes1), as_float(boxes2))
    return _iou_from(inter, union)


def _giou(a: Tensor, b: Tensor) -> Tensor:
    inter, union = _inter_union(a, b)
    iou = _iou_from(inter, union)
    lt = torch.minimum(a[..., :2], b[..., :2])
    rb = torch.maximum(a[..., 2:], b[..., 2:])
    wh = (rb - lt).clamp(min=0)
    enclose = wh[..., 0] * wh[..., 1]
    tiny = torch.finfo(enclose.dtype).tiny
    # GIoU = IoU - (C - U) / C ; a zero-area enclosing box (both boxes degenerate at one point) gives IoU.
    penalty = torch.where(
        enclose > 0, (enclose - union) / enclose.clamp(min=tiny), torch.zeros_like(enclose)
    )
    return iou - penalty


def pairwise_giou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """Generalised IoU matrix ``(G, N)`` (Rezatofighi et al.), in ``[-1, 1]``."""
    return _giou(as_float(boxes1)[:, None, :], as_float(boxes2)[None, :, :])


def elementwise_giou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """GIoU of corresponding rows of two ``(M, 4)`` xyxy tensors -> ``(M,)``."""
    return _giou(as_float(boxes1), as_float(boxes2))


def point_box_ltrb(points: Tensor, boxes: Tensor) -> Tensor:
    """Distances ``(G, N, 4)`` = (left, top, right, bottom) from every point ``(N, 2)`` to the sides of
    every box ``(G, 4)``: ``(x - x0, y - y0, x1 - x, y1 - y)``. All four are positive iff the point is
    strictly inside. This is dense; prefer :func:`elementwise_ltrb` on candidate pairs."""
    p = as_float(points)[None, :, :]
    b = as_float(boxes)[:, None, :]
    return torch.cat((p - b[..., :2], b[..., 2:] - p), dim=-1)


def elementwise_ltrb(points: Tensor, boxes: Tensor) -> Tensor:
    """``(M, 2)`` points against ``(M, 4)`` boxes -> ``(M, 4)`` ltrb distances."""
    p = as_float(points)
    b = as_float(boxes)
    return torch.cat((p - b[:, :2], b[:, 2:] - p), dim=-1)


def points_in_boxes(points: Tensor, boxes: Tensor, eps: float = 0.0) -> Tensor:
    """Bool ``(G, N)``: point strictly inside the box, i.e. ``min(l, t, r, b) > eps`` (the reference
    detectors all use a strict test; ATSS uses ``eps=0.01``)."""
    p = as_float(points)
    b = as_float(boxes)
    x = p[None, :, 0]
    y = p[None, :, 1]
    return (
        (x - b[:, 0:1] > eps)
        & (y - b[:, 1:2] > eps)
        & (b[:, 2:3] - x > eps)
        & (b[:, 3:4] - y > eps)
    )
