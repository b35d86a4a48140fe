# Table 8 baseline: FCOS (detectron2's, without centerness, one-to-many) on CrowdHuman with the same
# data, schedule and 500 detections as the DeFCN rows; evaluated w/ and w/o NMS.
from ...common.models.fcos import model
from .poto_3dmf_aux_R_50_FPN_30k import dataloader, lr_multiplier, optimizer, train

model.num_classes = 1
model.head.use_centerness = False
model.backbone.bottom_up.freeze_at = 2
