"""OneNet ("What Makes for End-to-End Object Detection?"): one-to-one RetinaNet, FCOS and a
CenterNet-style detector with classification cost. Importing registers ``OneNet``
(meta-architecture) and ``build_onenet_resnet_deconv_backbone`` (backbone)."""

from .config import add_onenet_config
from .modeling import (
    ModulatedDeformConv3x3,
    OneNet,
    OneNetAssigner,
    OneNetCenterNetHead,
    ResNetDeconvBackbone,
    build_onenet_resnet_deconv_backbone,
)

__all__ = [
    "add_onenet_config",
    "ModulatedDeformConv3x3",
    "OneNet",
    "OneNetAssigner",
    "OneNetCenterNetHead",
    "ResNetDeconvBackbone",
    "build_onenet_resnet_deconv_backbone",
]
