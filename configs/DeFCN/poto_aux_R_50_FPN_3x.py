# Table 5: POTO + Aux, no 3DMF.
from .poto_3dmf_aux_R_50_FPN_3x import dataloader, lr_multiplier, model, optimizer, train

model.head.use_3dmf = False
