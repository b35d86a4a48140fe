# Table 8: POTO + 3DMF on CrowdHuman.
from .poto_3dmf_aux_R_50_FPN_30k import dataloader, lr_multiplier, model, optimizer, train

model.aux_loss_weight = 0.0
