# Table 3 "RetinaNet" baseline: one-to-many Max-IoU rule on CrowdHuman, evaluated with NMS.
from .retinanet_o2o_cls_R_50_FPN_47k import dataloader, lr_multiplier, model, optimizer, train

model.assigner.assignment = "max_iou"
model.max_detections_per_image = 1000  # raw candidates, so the evaluator's NMS column is meaningful
