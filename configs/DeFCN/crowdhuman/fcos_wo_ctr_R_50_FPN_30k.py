# FCOS without centerness (Table 1's baseline, one-to-many) on CrowdHuman, the setting of
# fcos_R_50_FPN_30k.py (Table 8's FCOS, which keeps centerness).
from .fcos_R_50_FPN_30k import dataloader, lr_multiplier, model, optimizer, train

model.head.use_centerness = False
