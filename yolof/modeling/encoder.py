"""Dilated Encoder (Sec. 4.1, Fig. 5): YOLOF's Single-in-Single-out neck on C5 / DC5."""

from typing import Sequence

import fvcore.nn.weight_init as weight_init
import torch.nn.functional as F
from torch import nn

from detectron2.layers import Conv2d, ShapeSpec, get_norm
from detectron2.modeling.backbone import Backbone

__all__ = ["DilatedEncoder", "DilatedResidualBlock"]


class DilatedResidualBlock(nn.Module):
    """Bottleneck residual block with a dilated 3x3 conv (Sec. 4.3 "Encoder"): 1x1 reducing the
    channels by 4, 3x3 with ``dilation``, 1x1 restoring them; every conv is followed by norm + ReLU
    (Fig. 5). The block output is ``relu(norm(conv3(...))) + x``: the last ReLU comes *before* the
    shortcut add and there is none after it, as in the public implementation. Adding the input back
    is what combines the original and the enlarged receptive field (Fig. 4c); ``use_shortcut=False``
    is Table 5c's ablation.
    """

    def __init__(
        self, channels: int, mid_channels: int, dilation: int, norm: str = "BN", use_shortcut=True
    ):
        super().__init__()
        self.conv1 = Conv2d(
            channels, mid_channels, 1, norm=get_norm(norm, mid_channels), activation=F.relu
        )
        self.conv2 = Conv2d(
            mid_channels,
            mid_channels,
            3,
            padding=dilation,
            dilation=dilation,
            norm=get_norm(norm, mid_channels),
            activation=F.relu,
        )
        self.conv3 = Conv2d(
            mid_channels, channels, 1, norm=get_norm(norm, channels), activation=F.relu
        )
        self.use_shortcut = use_shortcut
        for conv in (self.conv1, self.conv2, self.conv3):
            nn.init.normal_(conv.weight, mean=0.0, std=0.01)
            nn.init.constant_(conv.bias, 0.0)

    def forward(self, x):
        out = self.conv3(self.conv2(self.conv1(x)))
        return out + x if self.use_shortcut else out


class DilatedEncoder(Backbone):
    """``net``'s ``in_feature`` (C5, or DC5 with ``res5_dilation=2``) -> one feature ``"encoder"``.

    Projector (Sec. 4.3): 1x1 conv to ``out_channels`` + norm, then 3x3 conv + norm, *without*
    activation (Fig. 5 caption: "in Projector, we only use convolution layers and batchnorm layers").
    Then ``num_residual_blocks`` :class:`DilatedResidualBlock` with ``block_dilations`` (Table 5a-c;
    default 4 blocks, dilations 2, 4, 6, 8). With 0 blocks it is the plain SiSo encoder of Table 4
    ("w/o Dilated Encoder").

    A detectron2 ``Backbone`` wrapping ``net`` like ``FPN`` wraps ``bottom_up`` (detectron2's
    ``SimpleFeaturePyramid`` names its single-feature input ``net``), so ``DenseDetector`` takes it
    as its backbone and ``backbone.net.*`` parameters are exactly the ImageNet-initialised ones (the
    backbone LR factor applies to that prefix).
    """

    def __init__(
        self,
        net: Backbone,
        *,
        in_feature: str = "res5",
        out_channels: int = 512,
        block_mid_channels: int = 128,
        num_residual_blocks: int = 4,
        block_dilations: Sequence[int] = (2, 4, 6, 8),
        norm: str = "BN",
        use_shortcut: bool = True,
    ):
        super().__init__()
        if len(block_dilations) != num_residual_blocks:
            raise ValueError(
                f"DilatedEncoder: {num_residual_blocks} residual blocks need as many dilations, "
                f"got block_dilations={list(block_dilations)}"
            )
        self.net = net
        self.in_feature = in_feature
        in_shape = net.output_shape()[in_feature]
        self.lateral_conv = Conv2d(
            in_shape.channels, out_channels, 1, norm=get_norm(norm, out_channels)
        )
        self.fpn_conv = Conv2d(
            out_channels, out_channels, 3, padding=1, norm=get_norm(norm, out_channels)
        )
        weight_init.c2_xavier_fill(self.lateral_conv)
        weight_init.c2_xavier_fill(self.fpn_conv)
        self.dilated_blocks = nn.Sequential(
            *[
                DilatedResidualBlock(out_channels, block_mid_channels, d, norm, use_shortcut)
                for d in block_dilations
            ]
        )
        self._out_features = ["encoder"]
        self._out_feature_channels = {"encoder": out_channels}
        self._out_feature_strides = {"encoder": in_shape.stride}

    @property
    def size_divisibility(self) -> int:
        return self.net.size_divisibility

    def forward(self, x):
        c5 = self.net(x)[self.in_feature]
        out = self.fpn_conv(self.lateral_conv(c5))
        return {"encoder": self.dilated_blocks(out)}

    def output_shape(self):
        return {
            "encoder": ShapeSpec(
                channels=self._out_feature_channels["encoder"],
                stride=self._out_feature_strides["encoder"],
            )
        }
