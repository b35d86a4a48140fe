"""YOLOF decoder (Sec. 4.3 "Decoder", Fig. 9): RetinaNet-like heads with 2 cls / 4 reg convs and an
implicit objectness on the regression branch."""

import math
from typing import List

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from detectron2.layers import Conv2d, get_norm

__all__ = ["YOLOFDecoder", "implicit_objectness_logits", "EXP_CLAMP"]

#: Upper clamp of ``exp`` in :func:`implicit_objectness_logits` (the public implementation's ``INF``).
EXP_CLAMP = 1e8


def implicit_objectness_logits(cls_logits: Tensor, obj_logits: Tensor, num_classes: int) -> Tensor:
    """Logit of ``sigmoid(cls) * sigmoid(obj)``: the final score is the classification score times
    the implicit objectness (Sec. 4.3, after AutoAssign), written as one logit so that focal loss
    and ``sigmoid`` at test time apply to it unchanged:

        logit(s(c) s(o)) = c + o - log(1 + e^c + e^o)

    with ``e^c`` and ``e^o`` clamped at :data:`EXP_CLAMP` (1e8) as in the public implementation, so
    a logit above ln(1e8) = 18.42 gives ``c + o - 18.42`` (finite, no ``inf - inf``) instead of
    the exact value.

    Args:
        cls_logits: ``(N, A*K, H, W)``, channel ``a*K + k``.
        obj_logits: ``(N, A, H, W)``.
    Returns:
        ``(N, A*K, H, W)``.
    """
    n, _, h, w = cls_logits.shape
    cls = cls_logits.view(n, -1, num_classes, h, w)
    obj = obj_logits.view(n, -1, 1, h, w)
    normalizer = torch.log(
        1.0 + torch.clamp(cls.exp(), max=EXP_CLAMP) + torch.clamp(obj.exp(), max=EXP_CLAMP)
    )
    return (cls + obj - normalizer).view(n, -1, h, w)


def _conv_stack(channels: int, num_convs: int, norm: str) -> nn.Sequential:
    return nn.Sequential(
        *[
            Conv2d(
                channels, channels, 3, padding=1, norm=get_norm(norm, channels), activation=F.relu
            )
            for _ in range(num_convs)
        ]
    )


class YOLOFDecoder(nn.Module):
    """Classification branch: ``cls_num_convs`` x (3x3 conv + norm + ReLU) then a 3x3 conv to A*K.
    Regression branch: ``reg_num_convs`` x (3x3 conv + norm + ReLU) then two 3x3 convs, to A*4
    box deltas and to A implicit-objectness logits. Fewer cls than reg convs follows DETR's FFN
    (2 vs 4, Sec. 4.3). Init: N(0, 0.01) weights, zero bias, focal-loss prior on the cls bias.

    ``forward`` takes the one-element feature list of ``DenseDetector`` and returns
    ``([scores_logits (N, A*K, H, W)], [deltas (N, A*4, H, W)])`` where the score logits already
    include the objectness (:func:`implicit_objectness_logits`).
    """

    def __init__(
        self,
        *,
        in_channels: int,
        num_classes: int,
        num_anchors: int,
        cls_num_convs: int = 2,
        reg_num_convs: int = 4,
        norm: str = "BN",
        prior_prob: float = 0.01,
    ):
        super().__init__()
        self.num_classes = num_classes
        self.num_anchors = num_anchors
        self.cls_subnet = _conv_stack(in_channels, cls_num_convs, norm)
        self.bbox_subnet = _conv_stack(in_channels, reg_num_convs, norm)
        self.cls_score = nn.Conv2d(in_channels, num_anchors * num_classes, 3, padding=1)
        self.bbox_pred = nn.Conv2d(in_channels, num_anchors * 4, 3, padding=1)
        self.object_pred = nn.Conv2d(in_channels, num_anchors, 3, padding=1)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.normal_(module.weight, mean=0.0, std=0.01)
                nn.init.constant_(module.bias, 0.0)
        nn.init.constant_(self.cls_score.bias, -math.log((1 - prior_prob) / prior_prob))

    def forward(self, features: List[Tensor]):
        if len(features) != 1:
            raise ValueError(f"YOLOFDecoder works on one feature level, got {len(features)}")
        (x,) = features
        cls_logits = self.cls_score(self.cls_subnet(x))
        reg_features = self.bbox_subnet(x)
        deltas = self.bbox_pred(reg_features)
        objectness = self.object_pred(reg_features)
        return [implicit_objectness_logits(cls_logits, objectness, self.num_classes)], [deltas]
