# Reference variant: 3DMF without GN + aux.
from .poto_3dmf_aux_R_50_FPN_3x import dataloader, lr_multiplier, model, optimizer, train

model.head.filter_norm = ""
