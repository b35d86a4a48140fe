"""PSS score and losses (Sec. 3.1, Eq. 1-2, Eq. 4), written on log-probabilities.

P-hat (Eq. 4) is a product of two or three sigmoids and has no single logit, so the focal loss is
taken on the probability. Its logarithm is the sum of ``logsigmoid`` terms, which stays exact where
the product underflows; ``log(1 - P-hat)`` is ``log(-expm1(log P-hat))``.
"""

from typing import Optional

import torch
import torch.nn.functional as F

__all__ = [
    "RANK_NEGATIVES",
    "base_log_scores",
    "pss_log_scores",
    "ranking_loss",
    "ranking_negative_scores",
]

RANK_NEGATIVES = ("max_class", "all_classes")


def base_log_scores(cls_logits: torch.Tensor, ctr_logits: Optional[torch.Tensor]) -> torch.Tensor:
    """The base detector's part of log P-hat: ``log sigma(s_i(c)) + log sigma(ctr_i)``.

    ``cls_logits`` ``(..., K)``, ``ctr_logits`` ``(..., 1)``; ``ctr_logits=None`` drops the
    centerness factor (no center-ness branch, Table 6). Returns ``(..., K)``.
    """
    log_scores = F.logsigmoid(cls_logits)
    if ctr_logits is not None:
        log_scores = log_scores + F.logsigmoid(ctr_logits)
    return log_scores


def pss_log_scores(
    pss_logits: torch.Tensor, cls_logits: torch.Tensor, ctr_logits: Optional[torch.Tensor]
) -> torch.Tensor:
    """``log P-hat_i(c) = log sigma(pss_i) + log sigma(s_i(c)) + log sigma(ctr_i)`` (Eq. 4);
    ``pss_logits`` ``(..., 1)``, the rest as :func:`base_log_scores`."""
    return F.logsigmoid(pss_logits) + base_log_scores(cls_logits, ctr_logits)


def ranking_negative_scores(
    scores: torch.Tensor, positive_mask: torch.Tensor, num_negatives: int, mode: str = "max_class"
) -> torch.Tensor:
    """The top ``n_-`` negative scores ``P-hat_{i-}(c_{i-})`` of one image for Eq. 2.

    ``scores`` ``(R, K)``, ``positive_mask`` ``(R,)`` marks the one-to-one positives. The paper
    only says "the top n_- scored P-hat_{i-}(c_{i-}) from all negative samples"; a negative
    sample is a location that is not a one-to-one positive and, with ``mode="max_class"``
    (default), ``c_{i-}`` is its best class, i.e. the score it would be detected with. With
    ``mode="all_classes"`` every (location, class) score of the negatives competes.
    """
    if mode not in RANK_NEGATIVES:
        raise ValueError(f"rank negatives mode {mode!r} is not one of {RANK_NEGATIVES}")
    negatives = scores[~positive_mask]
    negatives = negatives.max(dim=1).values if mode == "max_class" else negatives.flatten()
    return negatives.topk(min(num_negatives, negatives.numel())).values


def ranking_loss(
    positive_scores: torch.Tensor, negative_scores: torch.Tensor, margin: float = 0.5
) -> torch.Tensor:
    """Eq. 2 for one image: ``1/(n_- n_+) sum_{i-} sum_{i+} max(0, gamma - P_{i+} + P_{i-})``.

    ``positive_scores`` ``(n_+,)`` are the one-to-one positives' scores for their gt class,
    ``negative_scores`` ``(n_-,)`` from :func:`ranking_negative_scores`. Zero when either is empty.
    """
    if positive_scores.numel() == 0 or negative_scores.numel() == 0:
        return positive_scores.sum() * 0 + negative_scores.sum() * 0
    hinge = (margin - positive_scores[:, None] + negative_scores[None, :]).clamp(min=0)
    return hinge.mean()
