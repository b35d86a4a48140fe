# Table 1: hand-designed one-to-one rule 'Center' (point nearest the gt centre on its FCOS level).
from .poto_3dmf_aux_R_50_FPN_3x import dataloader, lr_multiplier, model, optimizer, train

model.aux_loss_weight = 0.0
model.head.use_3dmf = False
model.assigner.method = "center"
