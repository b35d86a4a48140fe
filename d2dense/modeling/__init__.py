from .backbone import build_fcos_resnet_fpn_backbone
from .deform import DeformBottleneckBlockTV, DeformConv2dTV, make_resnet_stages
from .fcos import FCOS, FCOSHead
from .postprocess import select_detections
from .resnet import small_resnet_fpn_backbone
