"""OneNet FCOS R50-FPN: the end-to-end FCOS of "What Makes for End-to-End Object Detection?"
(Table 2, last column: one-to-one, predicted location cost + classification cost, min-cost per gt).
Derived from the FCOS model config: same backbone and GN towers, no centerness; the loss and the
NMS-free top-k inference are OneNet's."""

from detectron2.config import LazyCall as L
from detectron2.modeling.anchor_generator import DefaultAnchorGenerator
from d2dense.modeling import LinearBoxCoder

from onenet import OneNet, OneNetAssigner

from .fcos import model

model._target_ = OneNet
del model.use_centerness
model.pop("test_max_filter", None)  # FCOS post-processing options; OneNet has no such step
model.pop("test_spatial_nms", None)
model.head.use_centerness = False
# One point per location at ((j + 0.5) s, (i + 0.5) s), stored as a box of side s (as FCOS does).
model.anchor_generator = L(DefaultAnchorGenerator)(
    sizes=[[8], [16], [32], [64], [128]], aspect_ratios=[1.0], strides=[8, 16, 32, 64, 128]
)
# the reference's ReLU decoding (negative_grad_slope=0); the CPU variant passes a gradient below 0
model.box2box_transform = L(LinearBoxCoder)(normalize_by_size=True, negative_grad_slope=0.0)
model.assigner = L(OneNetAssigner)(
    assignment="one_to_one",  # one_to_one | fcos (the original one-to-many rule)
    location_cost="predicted",  # predicted | predefined
    candidates="points",
    solver="min_cost",  # min_cost | hungarian
    weight_class=2.0,  # 0 = location cost only
    weight_l1=5.0,
    weight_giou=2.0,
    fpn_level_prior=False,  # True: the gt's pre-defined FPN level only (Sec. 3.3)
    center_sampling_radius=1.5,
)
model.loss_weight_class = 2.0
model.loss_weight_l1 = 5.0
model.loss_weight_giou = 2.0
model.test_score_thresh = 0.0  # OneNet: top-k without threshold
model.test_topk_candidates = 1000
model.test_nms_thresh = None  # end-to-end; the NMS-aware evaluator adds the "w/ NMS" column
# Raw candidates: the evaluator's "w/o NMS" column keeps the top 100 (OneNet's inference), the
# "w/ NMS" column needs the usual 1000 pre-NMS candidates to be meaningful.
model.max_detections_per_image = 1000
