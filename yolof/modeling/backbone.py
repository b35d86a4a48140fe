"""yacs backbone builder: detectron2's ResNet (``MODEL.RESNETS``, incl. ``RES5_DILATION`` for DC5)
wrapped by the Dilated Encoder (``MODEL.YOLOF.ENCODER``)."""

from detectron2.layers import ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY
from detectron2.modeling.backbone import build_resnet_backbone

from .encoder import DilatedEncoder

__all__ = ["build_yolof_resnet_dilated_encoder_backbone"]


@BACKBONE_REGISTRY.register()
def build_yolof_resnet_dilated_encoder_backbone(cfg, input_shape: ShapeSpec):
    enc = cfg.MODEL.YOLOF.ENCODER
    return DilatedEncoder(
        build_resnet_backbone(cfg, input_shape),
        in_feature=enc.IN_FEATURE,
        out_channels=enc.NUM_CHANNELS,
        block_mid_channels=enc.BLOCK_MID_CHANNELS,
        num_residual_blocks=enc.NUM_RESIDUAL_BLOCKS,
        block_dilations=enc.BLOCK_DILATIONS,
        norm=enc.NORM,
        use_shortcut=enc.USE_SHORTCUT,
    )
