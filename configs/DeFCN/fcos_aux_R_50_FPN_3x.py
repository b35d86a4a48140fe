# Table 5, row 2: FCOS (vanilla, with centerness: the table's 19.0 / 40.9 row) plus DeFCN's
# auxiliary loss (18.9 / 41.3 in the paper). Same model, data and schedule as
# Baselines/fcos_R_50_FPN_3x.py, which is its exact control; the auxiliary rule is DeFCN's
# (alpha 0.8, Mul quality, top-9 per level, loss weight 1).
from defcn import FCOSAux

from ..Baselines.fcos_R_50_FPN_3x import dataloader, lr_multiplier, model, optimizer, train

model._target_ = FCOSAux
model.aux_alpha = 0.8
model.aux_quality = "mul"
model.aux_topk = 9
model.aux_loss_weight = 1.0
