"""Score gap (Definition 3.3 of "What Makes for End-to-End Object Detection?").

For an object, the samples S are the predictions that detect it - box IoU with the ground truth
>= ``iou_thresh`` (0.5, the COCO match), scored at the ground truth's class - and
``score_gap = s(i_max) - max_{j in S \\ i_max} s(j)``: the highest score minus the second-highest.
An end-to-end detector needs a large gap (Sec. 3.4): otherwise the duplicates of an object survive
any score threshold that keeps the object. With a single matching prediction the second-highest
score is taken as 0; a ground truth no prediction matches has no gap (it is counted as missed).
"""

from dataclasses import dataclass
from typing import List

import torch

import matchcost

__all__ = ["ScoreGaps", "score_gaps"]


@dataclass
class ScoreGaps:
    """Per matched ground truth: ``gaps`` (top-1 minus top-2 score) and ``top_scores``; over all
    matched ground truths: ``normalized_scores``, every matching sample's score divided by its
    object's top score (the [0, 1] scores of Fig. 4); ``num_missed`` ground truths without match."""

    gaps: torch.Tensor
    top_scores: torch.Tensor
    normalized_scores: torch.Tensor
    num_missed: int

    @staticmethod
    def cat(parts: List["ScoreGaps"]) -> "ScoreGaps":
        return ScoreGaps(
            torch.cat([p.gaps for p in parts]),
            torch.cat([p.top_scores for p in parts]),
            torch.cat([p.normalized_scores for p in parts]),
            sum(p.num_missed for p in parts),
        )


@torch.no_grad()
def score_gaps(
    scores: torch.Tensor,
    boxes: torch.Tensor,
    gt_boxes: torch.Tensor,
    gt_classes: torch.Tensor,
    iou_thresh: float = 0.5,
) -> ScoreGaps:
    """One image: ``scores`` ``(R, K)`` class probabilities and ``boxes`` ``(R, 4)`` of every sample
    (dense, before any top-k), ground truths ``(G, 4)`` / ``(G,)``."""
    gaps, tops, normalized = [], [], []
    num_missed = 0
    if len(gt_boxes):
        match = matchcost.pairwise_iou(gt_boxes, boxes) >= iou_thresh  # (G, R)
        for g in range(len(gt_boxes)):
            s = scores[match[g], gt_classes[g]].float()
            if s.numel() == 0:
                num_missed += 1
                continue
            ranked = torch.sort(s, descending=True).values
            second = ranked[1] if len(ranked) > 1 else ranked.new_zeros(())
            gaps.append(ranked[0] - second)
            tops.append(ranked[0])
            normalized.append(ranked / ranked[0].clamp(min=torch.finfo(ranked.dtype).tiny))
    empty = scores.new_zeros(0, dtype=torch.float32)
    return ScoreGaps(
        torch.stack(gaps) if gaps else empty,
        torch.stack(tops) if tops else empty,
        torch.cat(normalized) if normalized else empty,
        num_missed,
    )
