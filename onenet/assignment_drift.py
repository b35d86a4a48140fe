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

from dataclasses import dataclass
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
        fields = PositiveSamples.__dataclass_fields__
        return PositiveSamples(**{k: torch.cat([getattr(p, k) for p in parts]) for k in fields})

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
    scores = probs.cpu().float()[safe, gt_classes.cpu()] if num_gt else torch.zeros(0)
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
    """Share of the ground truths matched in both records whose positive changed sample
    (``changed``), moved by more than one stride of the coarser of the two levels (``moved``),
    or changed FPN level (``level_changed``); ``mean_shift_strides``: the mean distance moved, in
    those strides; ``num_gt``: how many ground truths were compared."""
    if len(before) != len(after):
        raise ValueError(f"drift: {len(before)} vs {len(after)} ground truths (not the same set?)")
    both = (before.index >= 0) & (after.index >= 0)
    n = int(both.sum())
    if n == 0:
        return {"num_gt": 0, "changed": float("nan"), "moved": float("nan"),
                "level_changed": float("nan"), "mean_shift_strides": float("nan")}  # fmt: skip
    distance = (after.points[both] - before.points[both]).norm(dim=1)
    stride = torch.maximum(before.strides[both], after.strides[both])
    shift = distance / stride
    return {
        "num_gt": n,
        "changed": float((before.index[both] != after.index[both]).float().mean()),
        "moved": float((shift > 1.0).float().mean()),
        "level_changed": float((before.levels[both] != after.levels[both]).float().mean()),
        "mean_shift_strides": float(shift.mean()),
    }


def summarise_positives(record: PositiveSamples, num_levels: int) -> Dict[str, object]:
    """Where the positives of one checkpoint are: the share of gts with a positive, of positives
    inside their gt box, the mean probability of the positive at the gt's class, and the share of
    positives per FPN level."""
    matched = record.index >= 0
    n = int(matched.sum())
    per_level = torch.bincount(record.levels[matched], minlength=num_levels).float()
    return {
        "num_gt": len(record),
        "matched": n / max(len(record), 1),
        "inside_gt": float(record.inside_gt[matched].float().mean()) if n else float("nan"),
        "mean_score": float(record.scores[matched].mean()) if n else float("nan"),
        "per_level": (per_level / max(n, 1)).tolist(),
    }
