"""Backbone pieces for the small CPU variant (ResNet-18 + FPN trained from scratch)."""

from detectron2.modeling.backbone import FPN, BasicStem, ResNet
from detectron2.modeling.backbone.fpn import LastLevelP6P7

__all__ = ["small_resnet_fpn_backbone"]


def small_resnet_fpn_backbone(depth=18, out_channels=128, norm="BN", p6p7_from="p5"):
    """ResNet-{18,34} + FPN (P3-P7), trainable BN, no pretrained weights.

    Basic-block ResNets take no ``stride_in_1x1`` / bottleneck arguments (detectron2 raises
    otherwise), which is why this is a function rather than ``depth=18`` patched into the R50 config.
    """
    bottom_up = ResNet(
        stem=BasicStem(in_channels=3, out_channels=64, norm=norm),
        stages=ResNet.make_default_stages(depth=depth, norm=norm),
        out_features=["res3", "res4", "res5"],
    )
    top_in = out_channels if p6p7_from == "p5" else bottom_up.output_shape()["res5"].channels
    return FPN(
        bottom_up=bottom_up,
        in_features=["res3", "res4", "res5"],
        out_channels=out_channels,
        top_block=LastLevelP6P7(top_in, out_channels, in_feature=p6p7_from),
    )
