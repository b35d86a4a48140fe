"""The CenterNet-style detector of the paper: ResNet + upsampling to a single stride-4 map, and the
OneNet head (a shared 3x3 conv, then 3x3 classification and ltrb convs).

The neck follows OneNet's (pss_onenet.md 2.2): from C5, three times [3x3 conv (optionally modulated
deformable, "DCN") - norm - ReLU - 4x4 stride-2 transposed conv - norm - ReLU] plus a 1x1 lateral of
C4, C3, C2, then a 3x3 output conv. Deviation: the transposed convs keep CenterNet's bilinear
initialisation (OneNet re-initialises the whole neck with Xavier, overwriting it).
"""

import math
from typing import List, Sequence

import torch
from torch import nn
from torchvision.ops import deform_conv2d

from detectron2.layers import Conv2d, ShapeSpec, get_norm
from detectron2.modeling import BACKBONE_REGISTRY
from detectron2.modeling.backbone import Backbone, build_resnet_backbone

__all__ = [
    "ModulatedDeformConv3x3",
    "ResNetDeconvBackbone",
    "OneNetCenterNetHead",
    "build_onenet_resnet_deconv_backbone",
]


class ModulatedDeformConv3x3(nn.Module):
    """3x3 modulated deformable convolution (DCNv2): a plain 3x3 conv predicts the 9 2-D offsets and
    9 sigmoid masks; zero-initialised, so it starts as a regular convolution scaled by 0.5."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, 3, 3))
        nn.init.kaiming_uniform_(self.weight, a=1)
        self.offset_mask = nn.Conv2d(in_channels, 27, kernel_size=3, padding=1)
        nn.init.zeros_(self.offset_mask.weight)
        nn.init.zeros_(self.offset_mask.bias)

    def forward(self, x):
        offset, mask = torch.split(self.offset_mask(x), [18, 9], dim=1)
        return deform_conv2d(x, offset, self.weight, padding=(1, 1), mask=mask.sigmoid())


def _bilinear_upsampling_init(deconv: nn.ConvTranspose2d) -> None:
    """Initialise a depth-wise-identical transposed conv as bilinear upsampling (CenterNet)."""
    k = deconv.kernel_size[0]
    f = math.ceil(k / 2)
    c = (2 * f - 1 - f % 2) / (2.0 * f)
    ramp = torch.tensor([1 - abs(i / f - c) for i in range(k)])
    kernel = ramp[:, None] * ramp[None, :]
    with torch.no_grad():
        deconv.weight.zero_()
        for ch in range(min(deconv.in_channels, deconv.out_channels)):
            deconv.weight[ch, ch] = kernel


class _UpsampleBlock(nn.Module):
    """conv 3x3 - norm - ReLU - transposed conv x2 - norm - ReLU."""

    def __init__(self, in_channels: int, out_channels: int, norm: str, deform: bool):
        super().__init__()
        if deform:
            self.conv = ModulatedDeformConv3x3(in_channels, out_channels)
        else:
            self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.norm1 = get_norm(norm, out_channels)
        self.up = nn.ConvTranspose2d(out_channels, out_channels, 4, stride=2, padding=1, bias=False)
        _bilinear_upsampling_init(self.up)
        self.norm2 = get_norm(norm, out_channels)

    def forward(self, x):
        x = torch.relu(self.norm1(self.conv(x)))
        return torch.relu(self.norm2(self.up(x)))


class ResNetDeconvBackbone(Backbone):
    """ResNet + three x2 upsampling stages with lateral skips: one ``"p2"`` map at stride 4."""

    def __init__(
        self,
        *,
        bottom_up: Backbone,
        channels: Sequence[int] = (256, 128, 64),
        norm: str = "BN",
        deform: bool = False,
    ):
        """
        Args:
            bottom_up: a ResNet whose ``out_features`` are ``res2..res5``.
            channels: output channels of the upsampling stages to strides 16, 8 and 4
                (OneNet ``DECONV_CHANNEL[1:]``).
            norm: normalisation of the upsampling stages.
            deform: modulated deformable 3x3 convs in the upsampling stages (OneNet "dcn").
        """
        super().__init__()
        shapes = bottom_up.output_shape()
        lateral_features = ["res4", "res3", "res2"]
        missing = [f for f in ["res5"] + lateral_features if f not in shapes]
        if missing:
            raise ValueError(f"bottom_up must output res2..res5; missing {missing}")
        if len(channels) != 3:
            raise ValueError(f"channels must give the 3 upsampling stages, got {list(channels)}")
        self.bottom_up = bottom_up
        self.lateral_features = lateral_features
        in_channels = [shapes["res5"].channels] + list(channels[:-1])
        self.up_blocks = nn.ModuleList(
            _UpsampleBlock(i, o, norm, deform) for i, o in zip(in_channels, channels)
        )
        self.laterals = nn.ModuleList(
            Conv2d(shapes[f].channels, o, kernel_size=1) for f, o in zip(lateral_features, channels)
        )
        self.output_conv = Conv2d(channels[-1], channels[-1], kernel_size=3, padding=1)
        self._out_channels = channels[-1]

    @property
    def size_divisibility(self) -> int:
        # x2 upsampling of C5 must land exactly on C4's grid, and so on down to C2.
        return 32

    def forward(self, x):
        feats = self.bottom_up(x)
        y = feats["res5"]
        for up, lateral, name in zip(self.up_blocks, self.laterals, self.lateral_features):
            y = up(y) + lateral(feats[name])
        return {"p2": self.output_conv(y)}

    def output_shape(self):
        return {"p2": ShapeSpec(channels=self._out_channels, stride=4)}


class OneNetCenterNetHead(nn.Module):
    """OneNet head on the stride-4 map: shared 3x3 conv(s) + ReLU, then a 3x3 conv to K class logits
    and a 3x3 conv to the 4 ltrb distances (pixels; the box coder applies the ReLU).

    Returns ``([logits], [ltrb])`` - one level, in detectron2's dense-head layout.
    """

    def __init__(
        self, *, in_channels: int, conv_dims: List[int], num_classes: int, prior_prob=0.01
    ):
        super().__init__()
        layers = []
        for out_channels in conv_dims:
            layers += [nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.ReLU()]
            in_channels = out_channels
        self.shared = nn.Sequential(*layers)
        self.cls_score = nn.Conv2d(in_channels, num_classes, 3, padding=1)
        self.bbox_pred = nn.Conv2d(in_channels, 4, 3, padding=1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.01)
                nn.init.zeros_(m.bias)
        # Focal-loss prior (Lin et al.): every sample starts at score prior_prob.
        nn.init.constant_(self.cls_score.bias, -math.log((1 - prior_prob) / prior_prob))

    def forward(self, features):
        if len(features) != 1:
            raise ValueError(f"the CenterNet-style head takes one feature map, got {len(features)}")
        x = self.shared(features[0])
        return [self.cls_score(x)], [self.bbox_pred(x)]


@BACKBONE_REGISTRY.register()
def build_onenet_resnet_deconv_backbone(cfg, input_shape: ShapeSpec):
    """yacs: ``MODEL.RESNETS.OUT_FEATURES`` must be ``res2..res5``."""
    return ResNetDeconvBackbone(
        bottom_up=build_resnet_backbone(cfg, input_shape),
        channels=cfg.MODEL.ONENET.DECONV_CHANNELS,
        norm=cfg.MODEL.ONENET.DECONV_NORM,
        deform=cfg.MODEL.ONENET.DECONV_DEFORM,
    )
