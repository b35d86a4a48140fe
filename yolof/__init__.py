"""YOLOF (Dilated Encoder + Uniform Matching on one C5/DC5 level) for detectron2.
Importing registers the ``YOLOF`` meta-architecture and its yacs backbone builder."""

from .config import add_yolof_config, apply_cpu_scale
from .data import RandomShift, ShiftTransform
from .modeling import (
    YOLOF,
    CenterClampedBox2BoxTransform,
    DilatedEncoder,
    DilatedResidualBlock,
    MultiInSingleOutEncoder,
    SingleInMultiOutEncoder,
    SingleInSingleOutEncoder,
    YOLOFAssigner,
    YOLOFDecoder,
    implicit_objectness_logits,
    make_resnet_stages,
)
from .solver import PrefixLRFactor, step_lr_multiplier

__all__ = [
    "add_yolof_config",
    "apply_cpu_scale",
    "RandomShift",
    "ShiftTransform",
    "YOLOF",
    "CenterClampedBox2BoxTransform",
    "DilatedEncoder",
    "DilatedResidualBlock",
    "MultiInSingleOutEncoder",
    "SingleInMultiOutEncoder",
    "SingleInSingleOutEncoder",
    "YOLOFAssigner",
    "YOLOFDecoder",
    "implicit_objectness_logits",
    "make_resnet_stages",
    "PrefixLRFactor",
    "step_lr_multiplier",
]
