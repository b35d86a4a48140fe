"""FCOS R50-FPN (detectron2's, registered as ``FCOS``); raw candidates out, NMS in the evaluator."""

from d2dense.modeling import FCOS, FCOSHead

from .retinanet import model

model._target_ = FCOS
del model.anchor_generator
del model.box2box_transform
del model.anchor_matcher
del model.input_format
model.backbone.top_block.in_feature = "p5"
model.backbone.top_block.in_channels = 256
model.head._target_ = FCOSHead
del model.head.num_anchors
model.head.norm = "GN"
model.head.use_centerness = True
model.use_centerness = "${.head.use_centerness}"
model.test_score_thresh = 0.05
model.test_nms_thresh = None  # raw candidates; NMSAwareCOCOEvaluator applies NMS 0.6
model.max_detections_per_image = 1000
model.test_max_filter = None  # (phi, tau): keep only 3D local maxima of the scores (DeFCN Table 5)
# (k, iou): NMS at iou only within each level's k x k neighbourhoods of locations (DeFCN Table 2)
model.test_spatial_nms = None
