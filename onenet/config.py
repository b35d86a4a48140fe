"""yacs keys of OneNet (``MODEL.META_ARCHITECTURE: OneNet``) and the CPU-scale hook of the
CenterNet-style LazyConfigs. Defaults are the end-to-end FCOS of the paper (Table 2, last column).
"""

from detectron2.config import CfgNode as CN

from detectron2.config import LazyCall as L
from detectron2.modeling.backbone import BasicStem, ResNet

from .modeling.centernet import ResNetDeconvBackbone

__all__ = ["add_onenet_config", "centernet_cpu_scale"]


def add_onenet_config(cfg: CN) -> None:
    _C = cfg
    _C.MODEL.ONENET = CN()
    c = _C.MODEL.ONENET
    c.HEAD = "FCOS"  # RetinaNet | FCOS | CenterNet
    c.NUM_CLASSES = 80
    c.IN_FEATURES = ["p3", "p4", "p5", "p6", "p7"]  # CenterNet: ["p2"]
    c.NUM_CONVS = 4
    c.NORM = "GN"  # RetinaNet: ""
    # learnable per-level box scale (FCOS / cvpods); off as in detectron2's FCOS
    c.LEVEL_SCALES = False
    c.PRIOR_PROB = 0.01
    # ltrb decoding (FCOS / CenterNet heads): gradient slope below zero at training time; 0 is the
    # reference's ReLU (d2dense.modeling.LinearBoxCoder; the CPU variant uses 1)
    c.BOX_NEGATIVE_GRAD_SLOPE = 0.0
    # CenterNet-style neck (backbone build_onenet_resnet_deconv_backbone)
    c.DECONV_CHANNELS = [256, 128, 64]
    c.DECONV_NORM = "BN"
    c.DECONV_DEFORM = False
    # Assignment (Sec. 3.2-3.3): one_to_one | max_iou | fcos (the original one-to-many rules)
    c.ASSIGNMENT = "one_to_one"
    c.LOCATION_COST = "predicted"  # predicted | predefined
    c.SOLVER = "min_cost"  # min_cost | hungarian
    c.COST_CLASS = 2.0  # 0 = location cost only
    c.COST_L1 = 5.0
    c.COST_GIOU = 2.0
    c.FPN_LEVEL_PRIOR = False
    c.CENTER_SAMPLING_RADIUS = 1.5
    c.SCALE_RANGES = [
        [0.0, 64.0],
        [64.0, 128.0],
        [128.0, 256.0],
        [256.0, 512.0],
        [512.0, float("inf")],
    ]
    # Losses (Eq. 1): focal + L1 + GIoU, weights as OneNet's
    c.FOCAL_LOSS_ALPHA = 0.25
    c.FOCAL_LOSS_GAMMA = 2.0
    c.LOSS_CLASS = 2.0
    c.LOSS_L1 = 5.0
    c.LOSS_GIOU = 2.0
    # Inference: top-k (TEST.DETECTIONS_PER_IMAGE) without threshold; < 0: no NMS
    c.SCORE_THRESH_TEST = 0.0
    c.TOPK_CANDIDATES_TEST = 1000
    c.NMS_THRESH_TEST = -1.0


def centernet_cpu_scale(cfg) -> None:
    """``train.cpu_scale_hook`` of the CenterNet-style configs: the backbone.
    ``apply_scale`` swaps any ResNet backbone for an R18-FPN; this detector has no FPN, so put back
    its own neck on a from-scratch ResNet-18 (OneNet R18 channels 256/128/64, BN, no DCN) and size
    the head to the stride-4 map."""
    channels = [256, 128, 64]
    cfg.model.backbone = L(ResNetDeconvBackbone)(
        bottom_up=L(ResNet)(
            stem=L(BasicStem)(in_channels=3, out_channels=64, norm="BN"),
            stages=L(ResNet.make_default_stages)(depth=18, norm="BN"),
            out_features=["res2", "res3", "res4", "res5"],
        ),
        channels=channels,
        norm="BN",
        deform=False,
    )
    cfg.model.head.in_channels = channels[-1]
    cfg.model.head.conv_dims = [channels[-1]]
