from .assignment import METHODS, YOLOFAssigner
from .backbone import build_yolof_resnet_dilated_encoder_backbone
from .box_regression import CenterClampedBox2BoxTransform
from .decoder import EXP_CLAMP, YOLOFDecoder, implicit_objectness_logits
from .encoder import DilatedEncoder, DilatedResidualBlock
from .encoder_families import (
    MultiInSingleOutEncoder,
    SingleInMultiOutEncoder,
    SingleInSingleOutEncoder,
)
from .resnet import make_resnet_stages
from .yolof import YOLOF
