"""The 3DMF module of DeFCN (Sec. 3.2.2, Fig. 3)."""

from typing import List

import torch

import torch.nn.functional as F
from torch import nn

from detectron2.layers import get_norm

from d2dense.modeling.max_filter import max_filter_3d

__all__ = ["MaxFiltering3D"]


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
