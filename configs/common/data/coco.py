"""COCO dataloader (detectron2's) with d2dense's validating mapper and NMS-aware evaluation."""

from detectron2 import model_zoo
from detectron2.config import LazyCall as L

from d2dense.data import SafeDatasetMapper
from d2dense.evaluation.build import build_evaluators

dataloader = model_zoo.get_config("common/data/coco.py").dataloader
dataloader.train.mapper._target_ = SafeDatasetMapper
dataloader.train.mapper.use_instance_mask = False
dataloader.test.mapper._target_ = SafeDatasetMapper
# One pass reports AP / AR@100 on the raw outputs and after class-aware NMS (0.6), plus the Delta;
# person datasets (Penn-Fudan, COCO person views, CrowdHuman) also get AP@0.5 / mMR / recall.
dataloader.evaluator = L(build_evaluators)(dataset_name="${..test.dataset.names}", nms_thresh=0.6)
