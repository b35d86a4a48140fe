"""OneNet RetinaNet R50-FPN: the end-to-end RetinaNet of "What Makes for End-to-End Object
Detection?" (Table 2, last column). Derived from detectron2's RetinaNet config: same backbone (P6
from C5), head (4 convs, no norm) and 9 anchors per location with (1, 1, 1, 1) box deltas; the
assignment, loss and NMS-free top-k inference are OneNet's."""

from detectron2.config import LazyCall as L

from onenet import OneNet, OneNetAssigner

from .retinanet import model

model._target_ = OneNet
del model.anchor_matcher
del model.input_format
model.assigner = L(OneNetAssigner)(
    assignment="one_to_one",  # one_to_one | max_iou (the original one-to-many rule)
    location_cost="predicted",  # predicted | predefined (the anchor boxes)
    candidates="anchor_boxes",
    solver="min_cost",  # min_cost | hungarian
    weight_class=2.0,  # 0 = location cost only
    weight_l1=5.0,
    weight_giou=2.0,
)
model.loss_weight_class = 2.0
model.loss_weight_l1 = 5.0
model.loss_weight_giou = 2.0
model.test_score_thresh = 0.0
model.test_topk_candidates = 1000
model.test_nms_thresh = None
model.max_detections_per_image = 1000  # raw candidates (see onenet_fcos.py)
