# Table 5, row 2: FCOS w/o centerness (one-to-many labels) plus DeFCN's auxiliary loss. Built with
# the DeFCN class (assigner "fcos", no 3DMF) with the FCOS baseline's GIoU weight of 1.
from .poto_3dmf_aux_R_50_FPN_3x import dataloader, lr_multiplier, model, optimizer, train

model.head.use_3dmf = False
model.assigner.method = "fcos"
model.reg_loss_weight = 1.0
