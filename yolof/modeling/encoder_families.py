"""The encoders of Fig. 1 / Fig. 8 besides FPN (MiMo), as detectron2 backbones for RetinaNet.

Appendix A: MiMo is RetinaNet's FPN (C3-C5 -> P3-P7); SiMo feeds FPN with C5 alone ("we remove the
1x1 convolution layer designed for C3 and C4"); MiSo fuses C3-C5 with a PANet-like path into P5
only; SiSo keeps only FPN's C5 convolutions (1x1 lateral + 3x3 output) -> P5. Convolutions follow
detectron2's FPN: no norm, Caffe2-Xavier init; P6/P7 are RetinaNet's ``LastLevelP6P7`` on C5.
"""

from typing import Dict, List

import fvcore.nn.weight_init as weight_init
import torch.nn.functional as F
from torch import nn

from detectron2.layers import Conv2d, ShapeSpec
from detectron2.modeling.backbone import Backbone
from detectron2.modeling.backbone.fpn import LastLevelP6P7

__all__ = ["SingleInMultiOutEncoder", "MultiInSingleOutEncoder", "SingleInSingleOutEncoder"]


def _conv(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1) -> Conv2d:
    conv = Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2)
    weight_init.c2_xavier_fill(conv)
    return conv


class _EncoderBase(Backbone):
    """Stores ``net`` and declares the output features ``{name: stride}``."""

    def __init__(self, net: Backbone, out_channels: int, out_strides: Dict[str, int]):
        super().__init__()
        self.net = net
        self._out_features = list(out_strides)
        self._out_feature_channels = {k: out_channels for k in out_strides}
        self._out_feature_strides = dict(out_strides)

    @property
    def size_divisibility(self) -> int:
        # top-down / bottom-up fusion needs C3..C5 sizes to halve exactly, as in detectron2's FPN
        return 32

    def output_shape(self):
        return {
            k: ShapeSpec(
                channels=self._out_feature_channels[k], stride=self._out_feature_strides[k]
            )
            for k in self._out_features
        }


class SingleInSingleOutEncoder(_EncoderBase):
    """SiSo (Fig. 8d): ``P5 = conv3x3(conv1x1(C5))``."""

    def __init__(self, net: Backbone, *, in_feature: str = "res5", out_channels: int = 256):
        c5 = net.output_shape()[in_feature]
        super().__init__(net, out_channels, {"p5": c5.stride})
        self.in_feature = in_feature
        self.lateral_conv = _conv(c5.channels, out_channels, 1)
        self.output_conv = _conv(out_channels, out_channels, 3)

    def forward(self, x):
        return {"p5": self.output_conv(self.lateral_conv(self.net(x)[self.in_feature]))}


class SingleInMultiOutEncoder(_EncoderBase):
    """SiMo (Fig. 8b): FPN's top-down path fed by C5 only. ``L5 = conv1x1(C5)``;
    ``P_l = conv3x3(upsample^(5-l)(L5))`` for l = 3, 4, 5 (no C3/C4 laterals to add); P6/P7 from C5.
    """

    def __init__(self, net: Backbone, *, in_feature: str = "res5", out_channels: int = 256):
        c5 = net.output_shape()[in_feature]
        s = c5.stride
        super().__init__(
            net, out_channels, {"p3": s // 4, "p4": s // 2, "p5": s, "p6": s * 2, "p7": s * 4}
        )
        self.in_feature = in_feature
        self.lateral_conv = _conv(c5.channels, out_channels, 1)
        self.output_convs = nn.ModuleList([_conv(out_channels, out_channels, 3) for _ in range(3)])
        self.top_block = LastLevelP6P7(c5.channels, out_channels, in_feature=in_feature)

    def forward(self, x):
        c5 = self.net(x)[self.in_feature]
        top_down = self.lateral_conv(c5)
        outs: List = []
        for conv in self.output_convs:  # P5, P4, P3
            outs.insert(0, conv(top_down))
            top_down = F.interpolate(top_down, scale_factor=2.0, mode="nearest")
        p6, p7 = self.top_block(c5)
        return dict(zip(self._out_features, outs + [p6, p7]))


class MultiInSingleOutEncoder(_EncoderBase):
    """MiSo (Fig. 8c): FPN's top-down fusion of C3-C5 followed by a PANet bottom-up path that ends
    at P5 (Appendix A: "a structure similar to PANet"): ``N3 = P3``,
    ``N_{l+1} = conv3x3(P_{l+1} + conv3x3_stride2(N_l))``; only ``N5`` is output, as ``p5``."""

    def __init__(
        self, net: Backbone, *, in_features=("res3", "res4", "res5"), out_channels: int = 256
    ):
        shapes = net.output_shape()
        super().__init__(net, out_channels, {"p5": shapes[in_features[-1]].stride})
        self.in_features = list(in_features)
        self.lateral_convs = nn.ModuleList(
            [_conv(shapes[f].channels, out_channels, 1) for f in in_features]
        )
        self.output_convs = nn.ModuleList(
            [_conv(out_channels, out_channels, 3) for _ in in_features]
        )
        self.downsample_convs = nn.ModuleList(
            [_conv(out_channels, out_channels, 3, stride=2) for _ in in_features[1:]]
        )
        self.fuse_convs = nn.ModuleList(
            [_conv(out_channels, out_channels, 3) for _ in in_features[1:]]
        )

    def forward(self, x):
        feats = self.net(x)
        laterals = [conv(feats[f]) for conv, f in zip(self.lateral_convs, self.in_features)]
        for i in range(len(laterals) - 1, 0, -1):  # top-down, as FPN
            laterals[i - 1] = laterals[i - 1] + F.interpolate(
                laterals[i], scale_factor=2.0, mode="nearest"
            )
        pyramid = [conv(lat) for conv, lat in zip(self.output_convs, laterals)]
        bottom_up = pyramid[0]
        for down, fuse, p in zip(self.downsample_convs, self.fuse_convs, pyramid[1:]):
            bottom_up = fuse(p + down(bottom_up))
        return {"p5": bottom_up}
