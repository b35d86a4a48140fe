# Table 3 "FCOS" baseline: one-to-many FCOS rule on CrowdHuman, evaluated with NMS.
from .fcos_o2o_cls_R_50_FPN_47k import dataloader, lr_multiplier, model, optimizer, train

model.assigner.assignment = "fcos"
model.max_detections_per_image = 1000  # raw candidates, so the evaluator's NMS column is meaningful
