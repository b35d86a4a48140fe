# FCOS without the centerness branch: DeFCN Table 1, first row.
from .fcos_R_50_FPN_1x import dataloader, lr_multiplier, model, optimizer, train

model.head.use_centerness = False
