# Table 1: hand-designed one-to-one rule 'Anchor' (each gt takes its max-IoU anchor).
from .poto_3dmf_aux_R_50_FPN_3x import dataloader, lr_multiplier, model, optimizer, train

model.aux_loss_weight = 0.0
model.head.use_3dmf = False
model.assigner.method = "anchor"
