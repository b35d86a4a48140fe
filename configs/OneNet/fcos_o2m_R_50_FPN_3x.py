# Table 1 "FCOS" (original, one-to-many): centre sampling (1.5 strides) + FCOS scale ranges,
# smallest gt wins.
from .fcos_o2o_cls_R_50_FPN_3x import dataloader, lr_multiplier, model, optimizer, train

model.assigner.assignment = "fcos"
