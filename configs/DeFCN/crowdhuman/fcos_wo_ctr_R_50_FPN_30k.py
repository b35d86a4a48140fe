# Table 8 baseline: FCOS (one-to-many, evaluated with NMS) on CrowdHuman.
from .poto_3dmf_aux_R_50_FPN_30k import dataloader, lr_multiplier, model, optimizer, scale, train

model.aux_loss_weight = 0.0
model.head.use_3dmf = False
model.assigner.method = "fcos"
model.max_detections_per_image = 1000
