"""ATSS_PSS R50-FPN: RetinaNet with one square anchor (side 8 * stride) per location, ATSS
sampling (top 9 per level), centerness, plus the PSS branch. Derived from the FCOS_PSS config:
same backbone, towers and PSS settings; anchors, box deltas and Omega differ."""

from detectron2.config import LazyCall as L
from detectron2.modeling.box_regression import Box2BoxTransform

from pss import ATSS_PSS

from .fcos_pss import model

model._target_ = ATSS_PSS
del model.center_sampling_radius
model.anchor_scale = 8.0
model.atss_topk = 9
model.box2box_transform = L(Box2BoxTransform)(weights=(10.0, 10.0, 5.0, 5.0))
