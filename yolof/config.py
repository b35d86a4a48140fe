"""yacs keys of YOLOF (``MODEL.META_ARCHITECTURE: YOLOF``) and its small CPU variant.

The yacs defaults are the paper's R50-C5 1x model. Anchors use detectron2's
``MODEL.ANCHOR_GENERATOR`` keys (set in ``configs/YOLOF/yacs/Base-YOLOF.yaml``: sizes 32..512,
aspect ratio 1, offset 0).
"""

from omegaconf import DictConfig

from detectron2.config import CfgNode as CN
from detectron2.config import LazyCall as L
from detectron2.modeling.backbone import BasicStem, ResNet

__all__ = ["add_yolof_config", "apply_cpu_scale", "CPU_ENCODER_CHANNELS"]

#: CPU variant (../shared/cpu-study.md): encoder / decoder width on R18's 512-channel C5.
CPU_ENCODER_CHANNELS = 256


def add_yolof_config(cfg: CN) -> None:
    _C = cfg
    _C.MODEL.YOLOF = CN()
    c = _C.MODEL.YOLOF
    c.NUM_CLASSES = 80
    # Dilated Encoder (Sec. 4.1, Table 5a-c); the backbone builder is
    # build_yolof_resnet_dilated_encoder_backbone (MODEL.RESNETS.RES5_DILATION = 2 for DC5)
    c.ENCODER = CN()
    c.ENCODER.IN_FEATURE = "res5"
    c.ENCODER.NUM_CHANNELS = 512
    c.ENCODER.BLOCK_MID_CHANNELS = 128
    c.ENCODER.NUM_RESIDUAL_BLOCKS = 4
    c.ENCODER.BLOCK_DILATIONS = [2, 4, 6, 8]
    c.ENCODER.NORM = "BN"
    c.ENCODER.USE_SHORTCUT = True
    # Decoder (Sec. 4.3); the number of anchors comes from MODEL.ANCHOR_GENERATOR
    c.DECODER = CN()
    c.DECODER.CLS_NUM_CONVS = 2
    c.DECODER.REG_NUM_CONVS = 4
    c.DECODER.NORM = "BN"
    c.DECODER.PRIOR_PROB = 0.01
    # Box coding: centre shift clamped to +-32 px (Sec. 4.3)
    c.BBOX_REG_WEIGHTS = (1.0, 1.0, 1.0, 1.0)
    c.CTR_CLAMP = 32.0
    # Label assignment (Sec. 4.2, Table 5d-e): uniform | max_iou | atss | hungarian
    c.MATCHER = CN()
    c.MATCHER.METHOD = "uniform"
    c.MATCHER.TOPK = 4
    c.MATCHER.NEG_IGNORE_THRESH = 0.7
    c.MATCHER.POS_IGNORE_THRESH = 0.15
    c.MATCHER.ATSS_TOPK = 15
    c.FOCAL_LOSS_ALPHA = 0.25
    c.FOCAL_LOSS_GAMMA = 2.0
    c.LOSS_NORMALIZER_MOMENTUM = 0.0  # 0: divide by this batch's foreground count, as the reference
    c.SCORE_THRESH_TEST = 0.05
    c.TOPK_CANDIDATES_TEST = 1000
    # < 0: no NMS (raw candidates; the NMS-aware evaluator then reports both columns)
    c.NMS_THRESH_TEST = 0.6


def _small_resnet(out_features) -> DictConfig:
    """ResNet-18, trainable BN, from scratch (cpu-study.md). Its BasicBlock has no dilation, so DC5
    configs also run on a stride-32 C5 at CPU scale."""
    return L(ResNet)(
        stem=L(BasicStem)(in_channels=3, out_channels=64, norm="BN"),
        stages=L(ResNet.make_default_stages)(depth=18, norm="BN"),
        out_features=list(out_features),
        freeze_at=0,
    )


def apply_cpu_scale(cfg: DictConfig) -> None:
    """``train.cpu_scale_hook`` of every config in ``configs/YOLOF``, run by ``d2dense.config.apply_scale``
    after its generic part (data, schedule, ``head`` widths to 128).

    * YOLOF: R18 C5 (trainable BN) + Dilated Encoder and decoder at 256 channels (mid 64), BN;
      the encoder's blocks / dilations / shortcut and the anchors keep their (ablation) values,
      the anchor stride follows R18's C5 (32).
    * RetinaNet with a Fig. 1 encoder: R18 under the encoder, encoder width = the generic 128-channel
      RetinaNet head.
    """
    model = cfg.model
    backbone = model.backbone
    backbone.net = _small_resnet(backbone.net.out_features)
    if "in_channels" in model.head:  # YOLOFDecoder: one width shared with the encoder
        backbone.out_channels = CPU_ENCODER_CHANNELS
        backbone.block_mid_channels = CPU_ENCODER_CHANNELS // 4
        model.head.in_channels = "${..backbone.out_channels}"
        model.anchor_generator.strides = [32]
    else:  # detectron2 RetinaNetHead, already at d2dense's CPU width
        backbone.out_channels = model.head.conv_dims[0]
