"""3D max filtering over FPN levels (DeFCN Sec. 3.2.2, Eq. 5-6): the functional core shared by
DeFCN's 3DMF module and by 3D-max-filtering post-processing of any FPN detector (DeFCN Table 5)."""

from typing import List

import torch
import torch.nn.functional as F

__all__ = ["max_filter_3d", "keep_local_maxima_3d"]


def max_filter_3d(features: List[torch.Tensor], kernel_size: int, tau: int) -> List[torch.Tensor]:
    """Eq. 5-6: for every FPN level s, the maximum over the ``phi x phi`` spatial neighbourhood
    (``phi = kernel_size``) of the levels ``k in [s - tau/2, s + tau/2]`` bilinearly resized to
    level s. Levels outside the pyramid are skipped (P3 sees P3-P4 when tau = 2); ``tau = 0`` is 2D
    max filtering. Each output has the shape of its level. Equivalent to a ``MaxPool3d`` of kernel
    ``(tau + 1, phi, phi)`` with -inf padding over the stack of resized levels.
    """
    if kernel_size % 2 != 1 or tau % 2 != 0:
        raise ValueError(
            f"3DMF needs an odd spatial kernel and an even tau, got {kernel_size}, {tau}"
        )
    margin = tau // 2
    outputs = []
    for s, x in enumerate(features):
        size = x.shape[-2:]
        tube = []
        for k in range(max(0, s - margin), min(len(features), s + margin + 1)):
            xk = features[k]
            if k != s:
                xk = F.interpolate(xk, size=size, mode="bilinear", align_corners=False)
            tube.append(xk)
        y = torch.stack(tube, dim=0).amax(dim=0) if len(tube) > 1 else tube[0]
        if kernel_size > 1:
            # max over levels and max over space commute, so one 2D pool of the level-wise max.
            y = F.max_pool2d(y, kernel_size, stride=1, padding=kernel_size // 2)
        outputs.append(y)
    return outputs


def keep_local_maxima_3d(
    score_maps: List[torch.Tensor], kernel_size: int, tau: int
) -> List[torch.Tensor]:
    """3D max filtering as a *post-processing* step (DeFCN Table 5, the row marked *): a score
    survives only where it equals the maximum of its 3D neighbourhood (the CenterNet rule with a
    multi-scale tube); the others are set to 0. ``score_maps``: per level ``(N, K, H, W)``."""
    maxima = max_filter_3d(score_maps, kernel_size, tau)
    return [s * (s >= m).to(s.dtype) for s, m in zip(score_maps, maxima)]
