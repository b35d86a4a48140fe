"""How far a one-to-one assignment moves while the network trains.

With the location cost on the predicted boxes and no spatial prior (Table 2 of "What Makes for
End-to-End Object Detection?", "pred."), a ground truth's positive sample is whichever sample the
network currently places best, so it can move from one checkpoint to the next; with the
pre-defined location cost (Sec. 3.3) it is pinned by the geometry, and only the classification
cost can move it among the points of the gt's level. A positive that keeps moving gives each
location a classification target that keeps changing. This module records, for a fixed set of
ground truths, where each one's positive sample is (:func:`positive_samples`), and compares two
such records (:func:`drift`).
"""

from dataclasses import dataclass, fields
from typing import Dict, List, Sequence

import torch

__all__ = ["PositiveSamples", "positive_samples", "drift", "summarise_positives"]


@dataclass
class PositiveSamples:
    """Per ground truth (a fixed order over a fixed image set): ``index`` of its positive sample
    (-1: the gt got none), that sample's ``points`` ``(G, 2)`` (x, y), FPN ``levels`` and
    ``strides``, ``inside_gt`` (the point lies in the gt box) and ``scores`` (the sample's
    probability at the gt's class)."""

    index: torch.Tensor
    points: torch.Tensor
    levels: torch.Tensor
    strides: torch.Tensor
    inside_gt: torch.Tensor
    scores: torch.Tensor

    @staticmethod
    def cat(parts: List["PositiveSamples"]) -> "PositiveSamples":
        names = [f.name for f in fields(PositiveSamples)]
        return PositiveSamples(**{k: torch.cat([getattr(p, k) for p in parts]) for k in names})

    def __len__(self):
        return len(self.index)


def positive_samples(
    gt_inds: torch.Tensor,
    pred_inds: torch.Tensor,
    points: torch.Tensor,
    num_points_per_level: Sequence[int],
    strides: Sequence[float],
    gt_boxes: torch.Tensor,
    probs: torch.Tensor,
    gt_classes: torch.Tensor,
) -> PositiveSamples:
    """One image. ``gt_inds`` / ``pred_inds`` ``(P,)`` the positive pairs of a one-to-one
    assignment (:class:`matchcost.Assignment`), ``points`` ``(R, 2)`` every sample's location,
    ``gt_boxes`` ``(G, 4)`` xyxy, ``probs`` ``(R, K)``. A gt with several pairs (a one-to-many
    rule) is an error: there is no single positive to follow."""
    num_gt = len(gt_boxes)
    if gt_inds.numel() != torch.unique(gt_inds).numel():
        raise ValueError("positive_samples: a ground truth has several positives (one-to-many?)")
    index = torch.full((num_gt,), -1, dtype=torch.long)
    index[gt_inds.cpu()] = pred_inds.cpu()
    matched = index >= 0
    safe = index.clamp(min=0)
    level_of_sample = torch.repeat_interleave(
        torch.arange(len(num_points_per_level)), torch.as_tensor(list(num_points_per_level))
    )
    level_strides = torch.as_tensor([float(s) for s in strides])
    pts = points.cpu().float()[safe]
    boxes = gt_boxes.cpu().float()
    inside = (
        (pts[:, 0] >= boxes[:, 0])
        & (pts[:, 0] <= boxes[:, 2])
        & (pts[:, 1] >= boxes[:, 1])
        & (pts[:, 1] <= boxes[:, 3])
    )
    scores = probs.cpu().float()[safe, gt_classes.cpu()]
    levels = level_of_sample[safe]
    nan = float("nan")  # the fields of a gt without a positive
    return PositiveSamples(
        index=index,
        points=pts.masked_fill(~matched[:, None], nan),
        levels=levels.masked_fill(~matched, -1),
        strides=level_strides[levels].masked_fill(~matched, nan),
        inside_gt=inside & matched,
        scores=scores.masked_fill(~matched, nan),
    )


def drift(before: PositiveSamples, after: PositiveSamples) -> Dict[str, float]:
    """Compare two records of the same ground truths, over those matched in both (``num_gt``).

    A positive's shift is its move in grid steps of the coarser of its two levels (the Chebyshev
    distance divided by that stride, so that a diagonal neighbour is one step). Returned: the share
    of ground truths whose positive ``changed`` sample, ``moved`` more than one step, or changed
    FPN level (``level_changed``); the mean shift over all of them (``mean_shift``) and over those
    that changed (``mean_shift_changed``), and the largest (``max_shift``)."""
    if len(before) != len(after):
        raise ValueError(f"drift: {len(before)} vs {len(after)} ground truths (not the same set?)")
    both = (before.index >= 0) & (after.index >= 0)
    n = int(both.sum())
    keys = ("changed", "moved", "level_changed", "mean_shift", "mean_shift_changed", "max_shift")
    if n == 0:
        return {"num_gt": 0, **{k: float("nan") for k in keys}}
    steps = (after.points[both] - before.points[both]).abs().amax(dim=1)
    shift = steps / torch.maximum(before.strides[both], after.strides[both])
    changed = before.index[both] != after.index[both]
    return {
        "num_gt": n,
        "changed": float(changed.float().mean()),
        "moved": float((shift > 1.0).float().mean()),
        "level_changed": float((before.levels[both] != after.levels[both]).float().mean()),
        "mean_shift": float(shift.mean()),
        "mean_shift_changed": float(shift[changed].mean()) if changed.any() else 0.0,
        "max_shift": float(shift.max()),
    }


def summarise_positives(record: PositiveSamples, num_levels: int) -> Dict[str, object]:
    """Where the positives of one checkpoint are: the share of gts with a positive, of positives
    inside their gt box, the mean probability of the positive at the gt's class, and the share of
    positives per FPN level."""
    matched = record.index >= 0
    n = int(matched.sum())
    if n and int(record.levels[matched].max()) >= num_levels:
        raise ValueError(f"summarise_positives: a positive on level >= num_levels={num_levels}")
    per_level = torch.bincount(record.levels[matched], minlength=num_levels).float()
    return {
        "num_gt": len(record),
        "matched": n / max(len(record), 1),
        "inside_gt": float(record.inside_gt[matched].float().mean()) if n else float("nan"),
        "mean_score": float(record.scores[matched].mean()) if n else float("nan"),
        "per_level": (per_level / max(n, 1)).tolist(),
    }
