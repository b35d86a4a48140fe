from .assignment import OneNetAssigner
from .centernet import (
    ModulatedDeformConv3x3,
    OneNetCenterNetHead,
    ResNetDeconvBackbone,
    build_onenet_resnet_deconv_backbone,
)
from .onenet import OneNet
