"""3D Max Filtering (DeFCN Sec. 3.2.2, Eq. 5-6, Fig. 3)."""
from typing import List

import torch
import torch.nn.functional as F
from torch import nn

from detectron2.layers import get_norm

__all__ = ["max_filter_3d", "MaxFiltering3D", "keep_local_maxima_3d"]


def max_filter_3d(features: List[torch.Tensor], kernel_size: int, tau: int) -> List[torch.Tensor]:
    """Eq. 5-6: for every FPN level s, the maximum over the ``phi x phi`` spatial neighbourhood
    (``phi = kernel_size``) of the levels ``k in [s - tau/2, s + tau/2]`` bilinearly resized to
    level s. Levels outside the pyramid are skipped (P3 sees P3-P4 when tau = 2); ``tau = 0`` is 2D
    max filtering. Each output has the shape of its level. Equivalent to a ``MaxPool3d`` of kernel
    ``(tau + 1, phi, phi)`` with -inf padding over the stack of resized levels.
    """
    if kernel_size % 2 != 1 or tau % 2 != 0:
        raise ValueError(f"3DMF needs an odd spatial kernel and an even tau, got {kernel_size}, {tau}")
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


class MaxFiltering3D(nn.Module):
    """The 3DMF module of Fig. 3: conv3x3 -> 3D max filter -> + input -> GN -> ReLU.

    The residual adds the input before the convolution, as the public implementation does.
    ``norm=""`` gives the "3DMF w/o GN" variant of the reference repository.
    """

    def __init__(self, channels: int, kernel_size: int = 3, tau: int = 2, norm: str = "GN"):
        super().__init__()
        self.kernel_size = kernel_size
        self.tau = tau
        self.conv = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
        self.norm = get_norm(norm, channels) if norm else nn.Identity()
        nn.init.normal_(self.conv.weight, std=0.01)
        nn.init.constant_(self.conv.bias, 0)

    def forward(self, features: List[torch.Tensor]) -> List[torch.Tensor]:
        conved = [self.conv(x) for x in features]
        filtered = max_filter_3d(conved, self.kernel_size, self.tau)
        return [F.relu(self.norm(y + x)) for y, x in zip(filtered, features)]


def keep_local_maxima_3d(score_maps: List[torch.Tensor], kernel_size: int, tau: int) -> List[torch.Tensor]:
    """3D max filtering as a *post-processing* step (DeFCN Table 5, the row marked *): a score
    survives only where it equals the maximum of its 3D neighbourhood (the CenterNet rule with a
    multi-scale tube); the others are set to 0. ``score_maps``: per level ``(N, K, H, W)``."""
    maxima = max_filter_3d(score_maps, kernel_size, tau)
    return [s * (s >= m).to(s.dtype) for s, m in zip(score_maps, maxima)]
