"""Losses shared by the detectors whose score is a product of sigmoids (DeFCN, PSS)."""

import torch

__all__ = ["focal_loss_from_log_probs"]


def focal_loss_from_log_probs(
    log_probs: torch.Tensor, targets: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0
) -> torch.Tensor:
    """Sigmoid focal loss (sum) given ``log p`` rather than a logit.

    DeFCN's score ``sigmoid(cls) * sigmoid(filter)`` and PSS's ``sigmoid(pss) * sigmoid(cls) *
    sigmoid(ctr)`` have no single logit; their log is a sum of ``logsigmoid`` terms, which stays
    finite and differentiable for saturated scores. ``-alpha_t (1 - p_t)^gamma log p_t`` with
    ``p_t = p`` for ``targets = 1`` and ``1 - p`` otherwise; ``alpha < 0`` disables the alpha
    weighting, as in fvcore. ``log(1 - p) = log(-expm1(log p))``; its clamp only guards ``log(0)``
    when ``p`` rounds to exactly 1 (so no gradient is cut for any representable ``p < 1``).
    """
    log_p = log_probs
    p = log_p.exp()
    log_1mp = torch.log(torch.clamp(-torch.expm1(log_p), min=torch.finfo(log_p.dtype).tiny))
    loss = -(targets * (1 - p).pow(gamma) * log_p + (1 - targets) * p.pow(gamma) * log_1mp)
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss.sum()
