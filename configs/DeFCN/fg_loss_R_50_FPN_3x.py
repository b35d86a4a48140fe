# Table 1: one-to-one by foreground loss (focal + 2 GIoU, Hungarian, center prior).
from .poto_3dmf_aux_R_50_FPN_3x import dataloader, lr_multiplier, model, optimizer, train

model.aux_loss_weight = 0.0
model.head.use_3dmf = False
model.assigner.method = "fg_loss"
