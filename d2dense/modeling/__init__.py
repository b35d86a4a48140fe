from .backbone import build_fcos_resnet_fpn_backbone
from .box_regression import LinearBoxCoder, relu_with_negative_grad
from .losses import focal_loss_from_log_probs, mean_over_workers
from .max_filter import keep_local_maxima_3d, max_filter_3d
from .deform import DeformBottleneckBlockTV, DeformConv2dTV, make_resnet_stages
from .fcos import FCOS, FCOSHead
from .fuse import fuse_conv_norm, prepare_for_inference
from .postprocess import detect_batch, detect_single_image, select_detections
from .resnet import small_resnet_fpn_backbone
