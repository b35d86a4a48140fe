"""Converters from the official releases' checkpoints to d2dense parameter names.

Published weights of DeFCN (Megvii-BaseDetection/DeFCN, on cvpods), YOLOF (megvii-model/YOLOF on
cvpods, and its detectron2 port chensnathan/YOLOF) and OneNet (PeizeSun/OneNet, a detectron2 fork,
``projects/OneNet``) use their own module names. Each source has one ordered table of regex rules
(official key prefix -> our key prefix; the first rule that matches wins, the rest of the key is
kept) plus a few declared exceptions:

* ``dropped``: official entries with no parameter in our model (recomputed buffers such as cell
  anchors or the pixel normalisation), each with a reason and, where possible, a value check
  against our model;
* ``absent_ok``: our entries a checkpoint may legitimately not fill (``num_batches_tracked``);
* ``zero_bias``: our convs that have a bias where the official conv has none (filled with 0, exact);
* ``bias_into_bn``: official conv biases our conv lacks, absorbed by the following BatchNorm's
  running mean (exact at inference);
* ``level_scales``: the per-level learnable ``Scale`` of FCOS-style heads, which our heads do not
  have: folded into the shared box conv when all levels carry the same value (exact), otherwise an
  error unless ``allow_lossy=True``;
* ``input``: the official input normalisation (channel order, mean, std), folded into the stem
  conv when ours differs (OneNet: RGB / ImageNet std -> our BGR / std 1; exact).

Tensors are reshaped only in those folds; every other tensor is copied as is. With
``target_model`` the result is checked against the model: every converted key must exist with the
same shape, every parameter / buffer must be filled, and the ResNet stride placement must match.
Anything else raises :class:`CheckpointConversionError` (a ``ValueError``) listing the problems.

Official names were read in (names and shapes only):
  DeFCN  ``playground/detection/coco/poto.res50.fpn.coco.800size.3x_ms.3dmf.aux/fcos.py``
         (``FCOSHead``, ``MaxFiltering``) and ``.../fcos.res50.fpn.coco.800size.3x_ms/net.py``;
  cvpods ``cvpods/modeling/backbone/{resnet,fpn}.py``, ``cvpods/modeling/meta_arch/fcos.py``
         (``Scale``), ``cvpods/modeling/anchor_generator.py`` (persistent ``BufferList``);
  YOLOF  ``playground/detection/coco/yolof/yolof_base/{yolof,encoder,decoder}.py`` and
         ``yolof.res50.C5.1x/net.py`` (megvii-model/YOLOF); ``yolof/modeling/{yolof,encoder,
         decoder}.py`` (chensnathan/YOLOF);
  OneNet ``projects/OneNet/onenet/{detector,head,deconv}.py``, ``projects/OneNet/configs/*.yaml``.
"""

import logging
import math
import os
import pickle
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

__all__ = [
    "SOURCES",
    "CheckpointConversionError",
    "ConversionReport",
    "convert_state_dict",
    "load_official_checkpoint",
    "save_converted",
]

logger = logging.getLogger(__name__)

# detectron2 / MSRA defaults: BGR input, ImageNet mean in BGR order, std absorbed into conv1.
MSRA_MEAN_BGR = (103.53, 116.28, 123.675)
IMAGENET_MEAN_RGB = (123.675, 116.28, 103.53)
IMAGENET_STD_RGB = (58.395, 57.12, 57.375)


# --------------------------------------------------------------------------------------------
# Declarative pieces
# --------------------------------------------------------------------------------------------
Replacement = Union[str, Callable[["re.Match"], Optional[str]]]


@dataclass(frozen=True)
class Rule:
    """``pattern`` (anchored regex on the official key) -> ``to`` (a ``re`` template, or a function
    of the match returning our prefix or None for "no match"); the unmatched rest of the key is
    appended unchanged."""

    pattern: str
    to: Replacement
    why: str


@dataclass(frozen=True)
class Dropped:
    """Official entries without a parameter in our model. ``check(tensor, ctx)`` returns a problem
    string (or None) when the dropped value contradicts our model."""

    pattern: str
    why: str
    check: Optional[Callable[[str, torch.Tensor, "_Context"], Optional[str]]] = None


@dataclass(frozen=True)
class KeyNote:
    """A target-key pattern with the reason it is treated specially."""

    pattern: str
    why: str


@dataclass(frozen=True)
class LevelScales:
    """FCOS-style per-level ``Scale`` scalars applied to the shared box conv's output before the
    ReLU: ``relu(s_l * conv(x))``. Our heads decode ``relu(conv(x)) * stride`` without ``s_l``."""

    pattern: str  # official key, group 1 = level
    box_conv: str  # our (renamed) box conv prefix
    why: str


@dataclass(frozen=True)
class InputSpec:
    """The official input normalisation: ``(image[format] - mean) / std``."""

    format: str
    mean: Tuple[float, float, float]
    std: Tuple[float, float, float]
    where: str


# Our FCOS-style heads' learnable per-level scales (``FCOSHead(learnable_level_scales=True)``).
LEVEL_SCALES_KEY = "head.level_scales"


@dataclass(frozen=True)
class SourceSpec:
    name: str
    description: str
    rules: Tuple[Rule, ...]
    input: InputSpec
    stem_key: str  # our key of the first conv (the input normalisation is folded into it)
    stride_in_1x1: bool  # where the official ResNet puts the stride of res3..res5's first block
    dropped: Tuple[Dropped, ...] = ()
    absent_ok: Tuple[KeyNote, ...] = ()
    zero_bias: Tuple[KeyNote, ...] = ()
    # (our conv prefix regex without "$", our BatchNorm prefix as a re template, why)
    bias_into_bn: Tuple[Tuple[str, str, str], ...] = ()
    level_scales: Optional[LevelScales] = None
    hints: Tuple[Tuple[str, str], ...] = ()  # (our key regex, hint for shape/unfilled problems)


@dataclass
class _Context:
    source: SourceSpec
    target_model: Optional[nn.Module]
    target_state: Optional[Dict[str, torch.Tensor]]


# --------------------------------------------------------------------------------------------
# Rule helpers
# --------------------------------------------------------------------------------------------
def _sequential_conv_norm(target: str, period: int) -> Callable[["re.Match"], Optional[str]]:
    """Official ``nn.Sequential([Conv2d, Norm, Act] * n)`` index ``i`` -> our list of detectron2
    ``Conv2d(norm=...)``: conv ``i = period*j`` -> ``{target}.j``, norm ``period*j+1`` ->
    ``{target}.j.norm`` (activations have no parameters)."""

    def to(m):
        j, r = divmod(int(m.group("i")), period)
        t = m.expand(target)
        if r == 0:
            return f"{t}.{j}."
        if r == 1:
            return f"{t}.{j}.norm."
        return None

    return to


def _one_based(template: str) -> Callable[["re.Match"], str]:
    """``{i}`` in ``template`` <- the 1-based official index ``(?P<i>)`` minus one."""

    def to(m):
        return template.format(i=int(m.group("i")) - 1)

    return to


_RESNET_WHY = (
    "ResNet: cvpods' build_resnet_backbone and detectron2's share the names stem.conv1[.norm], "
    "res<2-5>.<block>.{conv1,conv2,conv3,shortcut}[.norm] (conv2_offset for deformable blocks)"
)
_FPN_RULES = (
    Rule(
        r"^backbone\.(fpn_lateral[2-6]|fpn_output[2-6])\.",
        r"backbone.\1.",
        "FPN lateral/output convs: same names (fpn_lateral<stage>, fpn_output<stage>) in "
        "cvpods' and detectron2's FPN",
    ),
    Rule(
        r"^backbone\.top_block\.(p6|p7)\.",
        r"backbone.top_block.\1.",
        "LastLevelP6P7: same names; the input of P6 (P5 or C5) shows in the weight shape",
    ),
)
_ABSENT_BN_COUNTER = KeyNote(
    r"\.num_batches_tracked$",
    "BatchNorm step counter: not used at inference nor by momentum BN training; left at 0 when "
    "the checkpoint has none (e.g. FrozenBN / exported pickles)",
)
_COMMON_HINTS = (
    (
        r"^head\.cls_score\.",
        "the number of classes (x anchors) differs: set model.num_classes (and anchors) as the "
        "official model (COCO 80, CrowdHuman 1)",
    ),
)


def _check_cell_anchors(key: str, value: torch.Tensor, ctx: _Context) -> Optional[str]:
    """Official cell anchors (a persistent buffer in cvpods / old detectron2) must equal the ones
    our anchor generator computes."""
    gen = getattr(ctx.target_model, "anchor_generator", None) if ctx.target_model else None
    if gen is None or not hasattr(gen, "cell_anchors"):
        return None
    level = int(key.rsplit(".", 1)[1])
    ours = list(gen.cell_anchors)
    if level >= len(ours):
        return f"{key}: official level {level} has no anchor level in our model ({len(ours)})"
    mine = ours[level].detach().cpu().float()
    if mine.shape != value.shape or not torch.allclose(mine, value.float(), atol=1e-3):
        return (
            f"{key}: official cell anchors {value.tolist()} differ from ours {mine.tolist()} "
            "(check model.anchor_generator sizes / aspect ratios, e.g. C5 vs DC5)"
        )
    return None


_YOLOF_RULES = (
    Rule(
        r"^backbone\.(stem|res[2-5])\.",
        r"backbone.net.\1.",
        _RESNET_WHY + "; ours is " "DilatedEncoder.net",
    ),
    Rule(
        r"^encoder\.lateral_conv\.",
        "backbone.lateral_conv.",
        "DilatedEncoder projector 1x1 conv: our encoder is the backbone wrapper, its convs are "
        "detectron2 Conv2d with the norm inside",
    ),
    Rule(
        r"^encoder\.lateral_norm\.",
        "backbone.lateral_conv.norm.",
        "separate BatchNorm after lateral_conv -> our Conv2d.norm",
    ),
    Rule(
        r"^encoder\.fpn_conv\.",
        "backbone.fpn_conv.",
        "DilatedEncoder projector 3x3 conv (after the 1x1 lateral)",
    ),
    Rule(
        r"^encoder\.fpn_norm\.",
        "backbone.fpn_conv.norm.",
        "separate BatchNorm after fpn_conv -> our Conv2d.norm",
    ),
    Rule(
        r"^encoder\.dilated_encoder_blocks\.(\d+)\.(conv[123])\.0\.",
        r"backbone.dilated_blocks.\1.\2.",
        "Bottleneck.conv<k> = Sequential(Conv2d, BN, ReLU): index 0 is the conv",
    ),
    Rule(
        r"^encoder\.dilated_encoder_blocks\.(\d+)\.(conv[123])\.1\.",
        r"backbone.dilated_blocks.\1.\2.norm.",
        "Bottleneck.conv<k>[1] is its BatchNorm",
    ),
    Rule(
        r"^decoder\.(cls_subnet|bbox_subnet)\.(?P<i>\d+)\.",
        _sequential_conv_norm(r"head.\1", period=3),
        "Decoder towers: Sequential([Conv2d, BN, ReLU] * n) -> our list of Conv2d(norm=BN)",
    ),
    Rule(
        r"^decoder\.(cls_score|bbox_pred|object_pred)\.",
        r"head.\1.",
        "Decoder predictors: same names on our YOLOFDecoder (channel layout A*K / A*4 / A as "
        "the official view(N, A, K, H, W))",
    ),
)
_YOLOF_DROPPED = (
    Dropped(
        r"^pixel_(mean|std)$",
        "input normalisation buffers: ours come from the config; their values are compared "
        "with ours (and folded into the stem conv if needed) in the input-normalisation step",
    ),
    Dropped(
        r"^anchor_generator\.cell_anchors\.\d+$",
        "cell anchors are recomputed by our DefaultAnchorGenerator (non-persistent buffer); "
        "checked equal to ours",
        _check_cell_anchors,
    ),
)
_YOLOF_INPUT = InputSpec(
    "BGR",
    MSRA_MEAN_BGR,
    (1.0, 1.0, 1.0),
    "MSRA R-50/101 configs (overridden by the checkpoint's own pixel_mean/pixel_std buffers)",
)
_YOLOF_HINTS = _COMMON_HINTS + (
    (
        r"^head\.(bbox_pred|object_pred)\.",
        "the number of anchors per location differs: C5 models have 5 (32..512), DC5 models 6 "
        "(16..512); use the matching config",
    ),
)


def _yolof_spec(name: str, description: str) -> SourceSpec:
    """The two YOLOF releases share names, shapes and input handling."""
    return SourceSpec(
        name=name,
        description=description,
        rules=_YOLOF_RULES,
        input=_YOLOF_INPUT,
        stem_key="backbone.net.stem.conv1.weight",
        stride_in_1x1=True,
        dropped=_YOLOF_DROPPED,
        absent_ok=(_ABSENT_BN_COUNTER,),
        hints=_YOLOF_HINTS,
    )


SOURCES: Dict[str, SourceSpec] = {
    # ---------------------------------------------------------------------------------------
    "defcn_cvpods": SourceSpec(
        name="defcn_cvpods",
        description="Megvii-BaseDetection/DeFCN (cvpods) FCOS-based models: POTO / 3DMF / aux",
        rules=(
            Rule(
                r"^backbone\.bottom_up\.(stem|res[2-5])\.", r"backbone.bottom_up.\1.", _RESNET_WHY
            ),
        )
        + _FPN_RULES
        + (
            Rule(
                r"^head\.(cls_subnet|bbox_subnet)\.(\d+)\.",
                r"head.\1.\2.",
                "FCOSHead towers: Sequential([Conv2d, GroupNorm, ReLU] x 4); ours (detectron2 "
                "FCOSHead) is the same Sequential, same indices",
            ),
            Rule(
                r"^head\.(cls_score|bbox_pred)\.",
                r"head.\1.",
                "cls_score / bbox_pred predictors keep their names",
            ),
            Rule(
                r"^head\.max3d\.(conv|norm)\.",
                r"head.max_filter.\1.",
                "MaxFiltering (3DMF conv + GN) -> our MaxFiltering3D",
            ),
            Rule(
                r"^head\.filter\.",
                "head.filter_pred.",
                "the 1-channel 'filter' conv after 3DMF -> our filter_pred",
            ),
        ),
        input=InputSpec(
            "BGR",
            MSRA_MEAN_BGR,
            (1.0, 1.0, 1.0),
            "cvpods base config (PIXEL_MEAN BGR, PIXEL_STD 1, FORMAT BGR), MSRA R-50",
        ),
        stem_key="backbone.bottom_up.stem.conv1.weight",
        stride_in_1x1=True,
        absent_ok=(_ABSENT_BN_COUNTER,),
        level_scales=LevelScales(
            r"^head\.scales\.(\d+)\.scale$",
            "head.bbox_pred",
            "FCOSHead.scales[l] (cvpods Scale, shape [1]): bbox_reg = relu(s_l * bbox_pred(x)) * "
            "stride_l; our DeFCNHead has no per-level scale",
        ),
        hints=_COMMON_HINTS
        + (
            (
                r"^backbone\.top_block\.p6\.",
                "official DeFCN builds P6 from P5 (build_retinanet_resnet_fpn_p5_backbone, 256 "
                "ch): "
                "model.backbone.top_block.in_feature=p5 model.backbone.top_block.in_channels=256",
            ),
            (
                r"^head\.(max_filter|filter_pred)\.",
                "3DMF presence / GN differs: use a config with the same head.use_3dmf / "
                "filter_norm",
            ),
        ),
    ),
    # ---------------------------------------------------------------------------------------
    "yolof_cvpods": _yolof_spec(
        "yolof_cvpods", "megvii-model/YOLOF (cvpods) ResNet C5 / DC5 models"
    ),
    # The detectron2 port keeps the cvpods module names (encoder / decoder are line-for-line the
    # same); only the anchor buffer is usually absent (non-persistent in detectron2 >= 0.3).
    "yolof_d2": _yolof_spec(
        "yolof_d2", "chensnathan/YOLOF (detectron2 port) ResNet C5 / DC5 models"
    ),
    # ---------------------------------------------------------------------------------------
    "onenet": SourceSpec(
        name="onenet",
        description="PeizeSun/OneNet (detectron2 fork) CenterNet-style (ResNet + deconv, "
        "stride 4), "
        "FCOS-style and RetinaNet-style models",
        rules=(
            Rule(
                r"^backbone\.bottom_up\.(stem|res[2-5])\.",
                r"backbone.bottom_up.\1.",
                _RESNET_WHY + " (FCOS / RetinaNet heads: ResNet inside the FPN)",
            ),
            Rule(
                r"^backbone\.(stem|res[2-5])\.",
                r"backbone.bottom_up.\1.",
                _RESNET_WHY + " (CenterNet head: a plain ResNet backbone; ours is the "
                "ResNetDeconvBackbone's bottom_up)",
            ),
        )
        + _FPN_RULES
        + (
            Rule(
                r"^head\.cls_conv_module\.(\d+)\.",
                r"head.cls_subnet.\1.",
                "FCOSHead ModuleList [Conv2d(bias=False), GN, ReLU] x 4 / RetinaHead [Conv2d"
                "(bias=False), ReLU] x 4: the same indices as detectron2's FCOS / RetinaNet "
                "Sequential towers",
            ),
            Rule(
                r"^head\.reg_conv_module\.(\d+)\.",
                r"head.bbox_subnet.\1.",
                "regression tower, as the classification one",
            ),
            Rule(
                r"^head\.cls_score\.",
                "head.cls_score.",
                "class logits (RetinaHead: A*K " "channels, anchor-major as detectron2's)",
            ),
            Rule(
                r"^head\.(ltrb_pred|bbox_pred)\.",
                "head.bbox_pred.",
                "FCOS / CenterNet ltrb_pred and RetinaNet bbox_pred -> our bbox_pred",
            ),
            Rule(
                r"^head\.feat1\.",
                "head.shared.0.",
                "CenterNet head: shared 3x3 conv (+ReLU) -> OneNetCenterNetHead.shared[0]",
            ),
            Rule(
                r"^head\.deconv\.deconv(?P<i>[123])\.dcn_offset\.",
                _one_based("backbone.up_blocks.{i}.conv.offset_mask."),
                "DCNDeconvLayer offset conv (27 = 18 offsets then 9 masks, the order our "
                "ModulatedDeformConv3x3 splits)",
            ),
            Rule(
                r"^head\.deconv\.deconv(?P<i>[123])\.(dcn|conv)\.",
                _one_based("backbone.up_blocks.{i}.conv."),
                "deformable (DCN) or plain (CNDeconvLayer) 3x3 conv of the upsampling stage; "
                "the neck is our backbone (ResNetDeconvBackbone)",
            ),
            Rule(
                r"^head\.deconv\.deconv(?P<i>[123])\.(dcn_bn|bn)\.",
                _one_based("backbone.up_blocks.{i}.norm1."),
                "BatchNorm after the upsampling stage's 3x3 conv -> our norm1",
            ),
            Rule(
                r"^head\.deconv\.deconv(?P<i>[123])\.up_sample\.",
                _one_based("backbone.up_blocks.{i}.up."),
                "4x4 stride-2 ConvTranspose2d (weight (in, out, 4, 4) in both) -> our up",
            ),
            Rule(
                r"^head\.deconv\.deconv(?P<i>[123])\.up_bn\.",
                _one_based("backbone.up_blocks.{i}.norm2."),
                "BatchNorm after the transposed conv -> our norm2",
            ),
            Rule(
                r"^head\.deconv\.lateral_conv(?P<i>[123])\.",
                _one_based("backbone.laterals.{i}."),
                "1x1 laterals of res4, res3, res2 (official 1-based) -> our laterals[0..2]",
            ),
            Rule(
                r"^head\.deconv\.output_conv\.",
                "backbone.output_conv.",
                "3x3 output conv of the neck (stride-4 map)",
            ),
        ),
        input=InputSpec(
            "RGB",
            IMAGENET_MEAN_RGB,
            IMAGENET_STD_RGB,
            "configs/Base-OneNet.yaml (torchvision R-50, INPUT.FORMAT RGB)",
        ),
        stem_key="backbone.bottom_up.stem.conv1.weight",
        stride_in_1x1=False,  # onenet.*.yaml: RESNETS.STRIDE_IN_1X1 False (torchvision weights)
        dropped=(
            Dropped(
                r"^head\.anchor_generator\.cell_anchors\.\d+$",
                "RetinaHead's own anchor generator buffers (persistent in older detectron2): "
                "recomputed by our model.anchor_generator; checked equal to ours",
                _check_cell_anchors,
            ),
        ),
        absent_ok=(_ABSENT_BN_COUNTER,),
        zero_bias=(
            KeyNote(
                r"^head\.(cls|bbox)_subnet\.\d+$",
                "OneNet's FCOS / RetinaNet tower convs have bias=False; detectron2's have a "
                "bias: 0 reproduces them exactly",
            ),
        ),
        bias_into_bn=(
            (
                r"^backbone\.up_blocks\.(\d+)\.conv",
                r"backbone.up_blocks.\1.norm1",
                "CNDeconvLayer (no DCN) has a biased 3x3 conv before BN; our plain conv has none: "
                "BN(conv(x) + b) == BN'(conv(x)) with running_mean' = running_mean - b",
            ),
        ),
        level_scales=LevelScales(
            r"^head\.scales\.(\d+)\.scale$",
            "head.bbox_pred",
            "FCOSHead.scales[l]: ltrb = relu(s_l * ltrb_pred(x)) * stride_l; our FCOS head "
            "(detectron2 FCOSHead) has no per-level scale",
        ),
        hints=_COMMON_HINTS
        + (
            (
                r"^backbone\.top_block\.p6\.",
                "OneNet's FPN is detectron2's build_retinanet_resnet_fpn_backbone: P6 from C5 "
                "(2048 ch): model.backbone.top_block.in_feature=res5 "
                "model.backbone.top_block.in_channels=2048",
            ),
            (
                r"^backbone\.up_blocks\.\d+\.conv\.offset_mask\.",
                "DCN vs no-DCN neck differs: model.backbone.deform must match (onenet.*.dcn / "
                "nodcn)",
            ),
        ),
    ),
}


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------
@dataclass
class ConversionReport:
    source: str
    renamed: List[Tuple[str, str]] = field(default_factory=list)  # (official, ours)
    dropped: List[Tuple[str, str]] = field(default_factory=list)  # (official, reason)
    filled: List[Tuple[str, str]] = field(default_factory=list)  # (ours, how / why)
    folded: List[str] = field(default_factory=list)
    left_unfilled: List[Tuple[str, str]] = field(default_factory=list)  # allowed, with reason
    notes: List[str] = field(default_factory=list)
    problems: List[str] = field(default_factory=list)
    validated: bool = False

    def summary(self) -> str:
        lines = [
            f"d2dense checkpoint conversion ({self.source}): {len(self.renamed)} tensors renamed, "
            f"{len(self.dropped)} dropped, {len(self.filled)} filled, {len(self.folded)} folds, "
            + ("validated against the model" if self.validated else "NOT validated (no model)")
        ]
        for title, items in (
            ("dropped official entries", [f"{k}: {why}" for k, why in self.dropped]),
            ("filled target entries", [f"{k}: {why}" for k, why in self.filled]),
            ("folds", self.folded),
            (
                "target entries left at the model's value",
                [f"{k}: {w}" for k, w in self.left_unfilled],
            ),
            ("notes", self.notes),
            ("PROBLEMS", self.problems),
        ):
            if items:
                lines.append(f"  {title} ({len(items)}):")
                lines.extend(f"    - {x}" for x in _compress(items))
        return "\n".join(lines)

    __str__ = summary


def _compress(items: Sequence[str], limit: int = 40) -> List[str]:
    items = list(items)
    if len(items) <= limit:
        return items
    return items[:limit] + [f"... and {len(items) - limit} more"]


class CheckpointConversionError(ValueError):
    """Raised with the full report when the converted checkpoint does not fit."""

    def __init__(self, report: ConversionReport):
        self.report = report
        super().__init__(
            f"cannot convert the {report.source} checkpoint ({len(report.problems)} problems):\n"
            + "\n".join(f"  - {p}" for p in report.problems)
        )


# --------------------------------------------------------------------------------------------
# Conversion
# --------------------------------------------------------------------------------------------
def _apply_rules(key: str, rules: Sequence[Rule]) -> Optional[str]:
    for rule in rules:
        m = re.match(rule.pattern, key)
        if not m:
            continue
        prefix = m.expand(rule.to) if isinstance(rule.to, str) else rule.to(m)
        if prefix is None:
            continue
        return prefix + key[m.end() :]
    return None


def _to_tensor(value) -> Optional[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, (np.generic,)):
        return torch.as_tensor(np.asarray(value))
    return None


def _hint(key: str, spec: SourceSpec) -> str:
    for pattern, text in spec.hints:
        if re.search(pattern, key):
            return f" [{text}]"
    return ""


def _target_normalisation(
    target_model, pixel_mean, pixel_std, report
) -> Tuple[List[float], List[float]]:
    def from_model(name):
        buf = getattr(target_model, name, None) if target_model is not None else None
        return [float(x) for x in buf.flatten()] if isinstance(buf, torch.Tensor) else None

    mean = list(pixel_mean) if pixel_mean is not None else from_model("pixel_mean")
    std = list(pixel_std) if pixel_std is not None else from_model("pixel_std")
    if mean is None or std is None:
        report.notes.append(
            "our input normalisation not given: assumed d2dense's default (BGR, mean "
            f"{list(MSRA_MEAN_BGR)}, std 1)"
        )
        mean = list(MSRA_MEAN_BGR) if mean is None else mean
        std = [1.0, 1.0, 1.0] if std is None else std
    return mean, std


def _fold_input_normalisation(out, official_pixel, spec, input_format, mean_t, std_t, report):
    """Fold the official normalisation into our stem conv: for our channel j reading official
    channel p(j), W'[:, j] = W[:, p(j)] * std_ours[j] / std_official[p(j)] (exact, also at the
    zero-padded border: both normalised inputs are 0 where the raw pixel equals the mean)."""
    src_mean = list(spec.input.mean)
    src_std = list(spec.input.std)
    if "pixel_mean" in official_pixel:
        src_mean = [float(x) for x in official_pixel["pixel_mean"].flatten()]
    if "pixel_std" in official_pixel:
        src_std = [float(x) for x in official_pixel["pixel_std"].flatten()]
    fmt = (input_format or "BGR").upper()
    if {fmt, spec.input.format} <= {"RGB", "BGR"}:
        perm = [0, 1, 2] if fmt == spec.input.format else [2, 1, 0]
    else:
        report.problems.append(
            f"input format {fmt!r} vs official {spec.input.format!r}: only RGB/BGR are supported"
        )
        return
    want_mean = [src_mean[p] for p in perm]
    if len(mean_t) != 3 or any(abs(a - b) > 1e-3 for a, b in zip(mean_t, want_mean)):
        report.problems.append(
            f"input normalisation: the official model subtracts mean {src_mean} "
            f"({spec.input.format}; {spec.input.where}); ours subtracts {mean_t} from {fmt} "
            f"images. A mean cannot be folded into the bias-free stem conv: set "
            f"model.pixel_mean={want_mean}"
        )
        return
    factor = [std_t[j] / src_std[perm[j]] for j in range(3)]
    if perm == [0, 1, 2] and all(abs(f - 1.0) < 1e-9 for f in factor):
        return
    w = out.get(spec.stem_key)
    if w is None:
        report.problems.append(f"input normalisation: stem conv {spec.stem_key} not in checkpoint")
        return
    scale = torch.tensor(factor, dtype=w.dtype).view(1, 3, 1, 1)
    out[spec.stem_key] = w[:, perm] * scale
    report.folded.append(
        f"{spec.stem_key}: official input ({spec.input.format}, mean {src_mean}, std {src_std}) "
        f"-> ours ({fmt}, mean {mean_t}, std {std_t}): input channels reordered {perm}, scaled "
        f"by {[round(f, 6) for f in factor]}"
    )


def _fold_level_scales(out, scales: Dict[int, torch.Tensor], spec, allow_lossy, report):
    ls = spec.level_scales
    values = [float(scales[k].flatten()[0]) for k in sorted(scales)]
    wkey, bkey = ls.box_conv + ".weight", ls.box_conv + ".bias"
    if wkey not in out:
        report.problems.append(f"level scales: {wkey} (the box conv to fold them into) is missing")
        return
    if any(v <= 0 for v in values):
        report.problems.append(
            f"level scales {values}: a non-positive scale cannot be folded through the ReLU "
            f"({ls.why})"
        )
        return
    s_max, s_min = max(values), min(values)
    if s_max - s_min <= 1e-6 * s_max:
        factor = values[0]
        how = f"all {len(values)} levels equal {factor:.6g}: folded exactly into {ls.box_conv}"
    else:
        factor = math.exp(sum(math.log(v) for v in values) / len(values))
        # ours / official ltrb per level: relu(mean * z) / relu(s_l * z)
        residual = [round(factor / v, 4) for v in values]
        text = (
            f"level scales head.scales.*.scale = {[round(v, 6) for v in values]} differ per level; "
            f"{ls.why}, so a shared conv cannot reproduce them"
        )
        if not allow_lossy:
            report.problems.append(
                text + ". Pass allow_lossy=True (--allow-lossy) to fold their geometric mean "
                f"{factor:.6g} (our / official ltrb at level l would be {residual}), or keep them "
                "exactly in a head with per-level scales: model.head.learnable_level_scales=True "
                "(yacs: MODEL.<METHOD>.LEVEL_SCALES True)"
            )
            return
        how = (
            f"LOSSY: {text}; folded their geometric mean {factor:.6g}: our / official ltrb "
            f"at level l = {residual}"
        )
    out[wkey] = out[wkey] * factor
    if bkey in out:
        out[bkey] = out[bkey] * factor
    report.folded.append(how)


def _find_resnet(model: nn.Module):
    from detectron2.modeling.backbone import ResNet

    for name, m in model.named_modules():
        if isinstance(m, ResNet):
            return name, m
    return None, None


def _check_stride_placement(model, spec, report):
    name, resnet = _find_resnet(model)
    if resnet is None or not hasattr(resnet, "res3"):
        report.notes.append("no detectron2 ResNet with res3 found: stride placement not checked")
        return
    block = resnet.res3[0]
    conv1 = getattr(block, "conv1", None)
    conv2 = getattr(block, "conv2", None)
    if conv1 is None or conv2 is None or tuple(conv1.kernel_size) != (1, 1):
        report.notes.append("res3 blocks are not bottlenecks: stride placement not checked")
        return
    ours = tuple(conv1.stride) != (1, 1)
    if ours != spec.stride_in_1x1:
        where = {True: "1x1 conv1 (MSRA / caffe layout)", False: "3x3 conv2 (torchvision layout)"}
        report.problems.append(
            f"architecture: the official ResNet strides res3-res5 in the "
            f"{where[spec.stride_in_1x1]}"
            f", ours in the {where[ours]}: set "
            f"model.{name}.stages.stride_in_1x1={spec.stride_in_1x1} (yacs: "
            f"MODEL.RESNETS.STRIDE_IN_1X1 {spec.stride_in_1x1})"
        )


def convert_state_dict(
    state_dict: Mapping[str, object],
    source: str,
    target_model: Optional[nn.Module] = None,
    *,
    input_format: Optional[str] = None,
    pixel_mean: Optional[Sequence[float]] = None,
    pixel_std: Optional[Sequence[float]] = None,
    allow_lossy: bool = False,
) -> Tuple["OrderedDict[str, torch.Tensor]", ConversionReport]:
    """Rename an official ``state_dict`` (tensors or numpy arrays) of ``source`` (a key of
    :data:`SOURCES`) to our names.

    Args:
        target_model: our model built from the config the weights are meant for; when given, the
            result is checked against it (keys, shapes, ResNet stride placement, anchors, input
            normalisation).
        input_format: the channel order our dataloader feeds (``dataloader.*.mapper.image_format``,
            default "BGR"); ``pixel_mean`` / ``pixel_std`` default to the model's buffers.
        allow_lossy: fold per-level FCOS scales that differ (approximation) instead of failing.

    Returns:
        ``(new_state_dict, report)``. Raises :class:`CheckpointConversionError` (a ``ValueError``)
        listing unmatched official keys, unfilled or mismatched target keys and architecture
        differences.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; choose from {sorted(SOURCES)}")
    spec = SOURCES[source]
    report = ConversionReport(source)
    target_state = None
    if target_model is not None:
        target_state = {k: v for k, v in target_model.state_dict().items()}
    ctx = _Context(spec, target_model, target_state)

    out: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    origin: Dict[str, str] = {}
    official_pixel: Dict[str, torch.Tensor] = {}
    scales: Dict[int, torch.Tensor] = {}
    scale_keys: Dict[int, str] = {}
    unmatched: List[str] = []
    for key, value in state_dict.items():
        tensor = _to_tensor(value)
        if tensor is None:
            unmatched.append(f"{key} (not a tensor: {type(value).__name__})")
            continue
        if spec.level_scales is not None:
            m = re.match(spec.level_scales.pattern, key)
            if m:
                scales[int(m.group(1))] = tensor
                scale_keys[int(m.group(1))] = key
                continue
        drop = next((d for d in spec.dropped if re.match(d.pattern, key)), None)
        if drop is not None:
            if key in ("pixel_mean", "pixel_std"):
                official_pixel[key] = tensor
            report.dropped.append((key, drop.why))
            problem = drop.check(key, tensor, ctx) if drop.check else None
            if problem:
                report.problems.append(problem)
            continue
        new = _apply_rules(key, spec.rules)
        if new is None:
            unmatched.append(key)
            continue
        if new in out:
            report.problems.append(f"{key} and {origin[new]} both map to {new}")
            continue
        out[new] = tensor
        origin[new] = key
        report.renamed.append((key, new))
    if unmatched:
        report.problems.append(
            f"official keys no {source} rule maps (a module our model lacks, or a different "
            f"architecture): {unmatched}"
        )

    # Official convs without bias where ours has one: exact with 0.
    for key in list(out):
        if not key.endswith(".weight") or out[key].dim() != 4:
            continue
        prefix = key[: -len(".weight")]
        for zb in spec.zero_bias:
            if not re.match(zb.pattern, prefix) or prefix + ".bias" in out:
                continue
            if target_state is None or prefix + ".bias" in target_state:
                out[prefix + ".bias"] = torch.zeros(out[key].shape[0], dtype=out[key].dtype)
                report.filled.append((prefix + ".bias", "zeros: " + zb.why))
    # Official conv biases our conv lacks, absorbed by the following BN.
    for conv_pattern, norm_repl, why in spec.bias_into_bn:
        for key in list(out):
            m = re.match(conv_pattern + r"\.bias$", key) if key.endswith(".bias") else None
            if not m or (target_state is not None and key in target_state):
                continue
            norm = m.expand(norm_repl)
            rm = norm + ".running_mean"
            if rm not in out:
                report.problems.append(f"{origin[key]}: no BatchNorm {rm} to absorb the bias into")
                continue
            out[rm] = out[rm] - out.pop(key)
            report.folded.append(f"{origin.pop(key)} -> {rm} (subtracted): {why}")

    if scales:
        ours = [f"{LEVEL_SCALES_KEY}.{level}" for level in sorted(scales)]
        if target_state is not None and all(k in target_state for k in ours):
            # our head has the learnable per-level scales (learnable_level_scales=True): exact
            for level, key in zip(sorted(scales), ours):
                out[key] = scales[level].reshape(1)
                origin[key] = scale_keys[level]
                report.renamed.append((origin[key], key))
        else:
            for level in sorted(scales):
                report.dropped.append(
                    (scale_keys[level], "folded into " + spec.level_scales.box_conv)
                )
            _fold_level_scales(out, scales, spec, allow_lossy, report)

    mean_t, std_t = _target_normalisation(target_model, pixel_mean, pixel_std, report)
    _fold_input_normalisation(out, official_pixel, spec, input_format, mean_t, std_t, report)

    if target_state is not None:
        _validate(out, origin, target_model, target_state, spec, report)

    if report.problems:
        raise CheckpointConversionError(report)
    return out, report


def _validate(out, origin, target_model, target_state, spec, report):
    report.validated = True
    missing, shapes = [], []
    for key in list(out):
        if key not in target_state:
            if key.endswith(".num_batches_tracked"):
                out.pop(key)
                report.dropped.append(
                    (origin.get(key, key), "our layer has no BN step counter " "(e.g. FrozenBN)")
                )
                continue
            missing.append(f"{origin.get(key, key)} -> {key}{_hint(key, spec)}")
        elif tuple(out[key].shape) != tuple(target_state[key].shape):
            shapes.append(
                f"{key} (official {origin.get(key, key)}): official {tuple(out[key].shape)} vs "
                f"ours {tuple(target_state[key].shape)}{_hint(key, spec)}"
            )
        elif out[key].dtype != target_state[key].dtype:
            out[key] = out[key].to(target_state[key].dtype)
    if missing:
        report.problems.append(f"converted keys not in our model: {missing}")
    if shapes:
        report.problems.append(f"shape mismatches: {shapes}")
    unfilled = []
    for key in target_state:
        if key in out:
            continue
        allowed = next((a for a in spec.absent_ok if re.search(a.pattern, key)), None)
        if allowed is not None:
            report.left_unfilled.append((key, allowed.why))
        else:
            unfilled.append(key + _hint(key, spec))
    if unfilled:
        report.problems.append(f"our model's keys the checkpoint does not fill: {unfilled}")
    _check_stride_placement(target_model, spec, report)


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------
class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles the detectron2 / cvpods ``.pkl`` format (dicts of numpy arrays) without running
    arbitrary code: only numpy array reconstruction and plain containers are allowed."""

    _ALLOWED = {
        ("collections", "OrderedDict"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
    }

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"{module}.{name} is not allowed in a weights pickle (pass trusted=True to load it "
            "with the unrestricted unpickler, only for files you trust)"
        )


def _unwrap(data, path: str) -> Dict[str, object]:
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: expected a dict, got {type(data).__name__}")
    for key in ("model", "state_dict"):
        if key in data and isinstance(data[key], Mapping):
            data = data[key]
            break
    if "blobs" in data and isinstance(data["blobs"], Mapping):  # Caffe2 / Detectron1 pickles
        data = data["blobs"]
    sd = OrderedDict((k, v) for k, v in data.items())
    if sd and all(k.startswith("module.") for k in sd):  # saved from a DistributedDataParallel
        sd = OrderedDict((k[len("module.") :], v) for k, v in sd.items())
        logger.info("%s: stripped the 'module.' prefix (a DistributedDataParallel state)", path)
    return sd


def load_official_checkpoint(path: str, trusted: bool = False) -> "OrderedDict[str, object]":
    """The state dict of an official checkpoint: ``.pkl`` (cvpods / detectron2 pickles of numpy
    arrays, ``{"model": ...}`` or bare) or a torch file (``{"model": sd}``, ``{"state_dict": sd}``
    or a bare state dict). ``module.`` prefixes are stripped. Without ``trusted`` only tensors /
    arrays and plain containers are unpickled."""
    if path.endswith(".pkl"):
        with open(path, "rb") as f:
            if trusted:
                data = pickle.load(f, encoding="latin1")
            else:
                data = _NumpyOnlyUnpickler(f, encoding="latin1").load()
    else:
        try:
            data = torch.load(path, map_location="cpu", weights_only=not trusted)
        except pickle.UnpicklingError as e:
            raise ValueError(
                f"{path}: torch.load(weights_only=True) refused it ({e}); if you trust the file, "
                "load it with trusted=True (--trusted)"
            ) from e
    return _unwrap(data, path)


def save_converted(state_dict: Mapping[str, torch.Tensor], path: str, source: str) -> None:
    """Save for ``DetectionCheckpointer`` / ``train.init_checkpoint``: a torch file
    ``{"model": ..., "__author__": ..., "matching_heuristics": False}``, so detectron2 loads the
    names as they are (no heuristic renaming)."""
    if path.endswith(".pkl"):
        raise ValueError(f"{path}: save as .pth (detectron2 reads .pkl files as pickled numpy)")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    torch.save(
        {
            "model": OrderedDict((k, v.contiguous()) for k, v in state_dict.items()),
            "__author__": f"d2dense converter ({source})",
            "matching_heuristics": False,
        },
        path,
    )
