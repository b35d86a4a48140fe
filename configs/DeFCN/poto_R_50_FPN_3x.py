# Table 1: POTO alone (no 3DMF, no aux). Tables 3/4 are override grids of this file (projects/).
from .poto_3dmf_aux_R_50_FPN_3x import dataloader, lr_multiplier, model, optimizer, train

model.aux_loss_weight = 0.0
model.head.use_3dmf = False
