# Reference variant: 3DMF without GN.
from .poto_3dmf_aux_R_50_FPN_3x import dataloader, lr_multiplier, model, optimizer, train

model.aux_loss_weight = 0.0
model.head.filter_norm = ""
