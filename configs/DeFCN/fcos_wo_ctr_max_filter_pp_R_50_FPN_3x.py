# Table 5 (*): plain FCOS w/o centerness (one-to-many) with 3D max filtering as post-processing.
from .poto_3dmf_aux_R_50_FPN_3x import dataloader, lr_multiplier, model, optimizer, scale, train

model.aux_loss_weight = 0.0
model.head.use_3dmf = False
model.assigner.method = "fcos"
model.test_max_filter = (3, 2)
model.max_detections_per_image = 1000  # raw candidates so the evaluator's NMS column is meaningful
