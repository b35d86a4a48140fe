"""ResNet / ResNeXt stages with deformable convolution through ``torchvision.ops``.

detectron2's ``DeformBottleneckBlock`` needs its compiled ``_C`` extension, which the PyPI build
used on CPU machines cannot load (and which users often fail to build). This block has the same
structure and **the same parameter names** (``conv1``, ``conv2_offset``, ``conv2``, ``conv3``,
``shortcut``), so detectron2 / ImageNet checkpoints load unchanged; the deformable 3x3 runs on
``torchvision.ops.deform_conv2d`` on any device.
"""

from typing import List, Sequence

import fvcore.nn.weight_init as weight_init
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import deform_conv2d

from detectron2.layers import CNNBlockBase, Conv2d, get_norm
from detectron2.modeling.backbone.resnet import BottleneckBlock, ResNet

__all__ = ["DeformConv2dTV", "DeformBottleneckBlockTV", "make_resnet_stages"]


class DeformConv2dTV(nn.Module):
    """Deformable conv (v1, or v2 when a modulation mask is given) with detectron2's ``norm``
    attribute, so it is a drop-in for ``detectron2.layers.DeformConv`` in a bottleneck."""

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size=3,
        stride=1,
        padding=1,
        dilation=1,
        groups=1,
        bias=False,
        norm=None,
    ):
        super().__init__()
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.weight = nn.Parameter(
            torch.empty(out_channels, in_channels // groups, kernel_size, kernel_size)
        )
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.norm = norm
        nn.init.kaiming_uniform_(self.weight, nonlinearity="relu")

    def forward(self, x, offset, mask=None):
        x = deform_conv2d(
            x,
            offset,
            self.weight,
            self.bias,
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            mask=mask,
        )
        return self.norm(x) if self.norm is not None else x


class DeformBottleneckBlockTV(CNNBlockBase):
    """detectron2's ``DeformBottleneckBlock`` (same arguments and parameter names) on torchvision."""

    def __init__(
        self,
        in_channels,
        out_channels,
        *,
        bottleneck_channels,
        stride=1,
        num_groups=1,
        norm="BN",
        stride_in_1x1=False,
        dilation=1,
        deform_modulated=False,
        deform_num_groups=1
    ):
        super().__init__(in_channels, out_channels, stride)
        self.deform_modulated = deform_modulated
        self.shortcut = (
            Conv2d(
                in_channels,
                out_channels,
                kernel_size=1,
                stride=stride,
                bias=False,
                norm=get_norm(norm, out_channels),
            )
            if in_channels != out_channels
            else None
        )
        stride_1x1, stride_3x3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1 = Conv2d(
            in_channels,
            bottleneck_channels,
            kernel_size=1,
            stride=stride_1x1,
            bias=False,
            norm=get_norm(norm, bottleneck_channels),
        )
        # 2 offsets (x, y) per kernel tap (and 1 modulation scalar for DCNv2) per deformable group
        offset_channels = (27 if deform_modulated else 18) * deform_num_groups
        self.conv2_offset = Conv2d(
            bottleneck_channels,
            offset_channels,
            kernel_size=3,
            stride=stride_3x3,
            padding=dilation,
            dilation=dilation,
        )
        self.conv2 = DeformConv2dTV(
            bottleneck_channels,
            bottleneck_channels,
            kernel_size=3,
            stride=stride_3x3,
            padding=dilation,
            dilation=dilation,
            groups=num_groups,
            norm=get_norm(norm, bottleneck_channels),
        )
        self.conv3 = Conv2d(
            bottleneck_channels,
            out_channels,
            kernel_size=1,
            bias=False,
            norm=get_norm(norm, out_channels),
        )
        for layer in (self.conv1, self.conv2, self.conv3, self.shortcut):
            if layer is not None:
                weight_init.c2_msra_fill(layer)
        # zero offsets at start: the block begins as a plain bottleneck
        nn.init.constant_(self.conv2_offset.weight, 0)
        nn.init.constant_(self.conv2_offset.bias, 0)

    def forward(self, x):
        out = F.relu_(self.conv1(x))
        if self.deform_modulated:
            offset_x, offset_y, mask = torch.chunk(self.conv2_offset(out), 3, dim=1)
            out = self.conv2(out, torch.cat((offset_x, offset_y), dim=1), mask.sigmoid())
        else:
            out = self.conv2(out, self.conv2_offset(out))
        out = self.conv3(F.relu_(out))
        shortcut = self.shortcut(x) if self.shortcut is not None else x
        return F.relu_(out + shortcut)


def make_resnet_stages(
    depth: int = 50,
    num_groups: int = 1,
    width_per_group: int = 64,
    deform_on_per_stage: Sequence[bool] = (False, False, False, False),
    deform_modulated: bool = False,
    deform_num_groups: int = 1,
    norm: str = "FrozenBN",
    stride_in_1x1: bool = True,
    res5_dilation: int = 1,
) -> List[List[CNNBlockBase]]:
    """Stages res2-res5 of ResNet / ResNeXt-{50,101,152} as detectron2's yacs
    ``build_resnet_backbone`` makes them (bottleneck width ``num_groups * width_per_group``
    doubling per stage), with deformable 3x3 convs in the stages flagged by
    ``deform_on_per_stage``. For LazyConfigs, where ``ResNet.make_default_stages`` has no ResNeXt
    width or deformable option."""
    blocks_per_stage = {50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3]}[depth]
    in_channels, out_channels = 64, 256
    bottleneck_channels = num_groups * width_per_group
    stages = []
    for idx, num_blocks in enumerate(blocks_per_stage):
        dilation = res5_dilation if idx == 3 else 1
        first_stride = 1 if idx == 0 or dilation == 2 else 2
        kwargs = dict(
            bottleneck_channels=bottleneck_channels,
            num_groups=num_groups,
            norm=norm,
            stride_in_1x1=stride_in_1x1,
            dilation=dilation,
        )
        if deform_on_per_stage[idx]:
            kwargs.update(
                block_class=DeformBottleneckBlockTV,
                deform_modulated=deform_modulated,
                deform_num_groups=deform_num_groups,
            )
        else:
            kwargs["block_class"] = BottleneckBlock
        stages.append(
            ResNet.make_stage(
                num_blocks=num_blocks,
                stride_per_block=[first_stride] + [1] * (num_blocks - 1),
                in_channels=in_channels,
                out_channels=out_channels,
                **kwargs
            )
        )
        in_channels, out_channels, bottleneck_channels = (
            out_channels,
            out_channels * 2,
            bottleneck_channels * 2,
        )
    return stages
