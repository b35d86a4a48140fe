"""Losses shared by the detectors whose score is a product of sigmoids (DeFCN, PSS), and the
loss normaliser averaged over the workers of a distributed run (every d2dense detector)."""

import torch
import torch.distributed as dist

from detectron2.utils import comm

__all__ = ["focal_loss_from_log_probs", "mean_over_workers"]


def mean_over_workers(value: float, device: torch.device) -> float:
    """``value`` averaged over the processes of a distributed run; ``value`` itself in a single
    process. A loss normaliser averaged this way makes every GPU divide by the same count, the
    total over the global batch divided by the world size (the DeFCN, YOLOF and OneNet references,
    mmdetection's reduce_mean), rather than by its own share. ``device`` is where the reduction runs (CUDA for NCCL).
    """
    world_size = comm.get_world_size()
    if world_size == 1:
        return float(value)
    total = torch.tensor(float(value), dtype=torch.float64, device=device)
    dist.all_reduce(total)
    return total.item() / world_size


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
