# Table 8 baseline "FCOS [46]": detectron2's FCOS (with centerness, one-to-many) on CrowdHuman with
# the same data, schedule and 500 detections as the DeFCN rows; evaluated w/ and w/o NMS.
# fcos_wo_ctr_R_50_FPN_30k.py drops centerness (Table 1's baseline) for a like-for-like row.
from ...common.models.fcos import model
from .poto_3dmf_aux_R_50_FPN_30k import dataloader, lr_multiplier, optimizer, train

model.num_classes = 1
model.backbone.bottom_up.freeze_at = 2
