"""detectron2's RetinaNet R50-FPN. ``test_nms_thresh=1.0`` makes its built-in NMS a no-op (no IoU
exceeds 1), so the model returns raw candidates and the NMS-aware evaluator applies NMS 0.6 itself.
"""

from detectron2 import model_zoo

model = model_zoo.get_config("common/models/retinanet.py").model
model.test_nms_thresh = 1.0
model.test_score_thresh = 0.05
model.max_detections_per_image = 1000
