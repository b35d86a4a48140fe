# FCOS w/o centerness (one-to-many labels) plus DeFCN's auxiliary loss: Table 5's "FCOS + Aux" on
# Table 1's centerness-free baseline (the paper's row, with centerness, is fcos_aux_R_50_FPN_3x.py).
# Built with the DeFCN class (assigner "fcos", no 3DMF) with the FCOS baseline's GIoU weight of 1;
# its exact control is this file + model.aux_loss_weight=0.
from .poto_3dmf_aux_R_50_FPN_3x import dataloader, lr_multiplier, model, optimizer, train

model.head.use_3dmf = False
model.assigner.method = "fcos"
model.reg_loss_weight = 1.0
