# Table 1, R101 row: FCOS_PSS R101-FPN, 3x, multi-scale 480-800.
from .fcos_pss_R_50_FPN_3x import dataloader, lr_multiplier, model, optimizer, train

model.backbone.bottom_up.stages.depth = 101
train.init_checkpoint = "detectron2://ImageNetPretrained/MSRA/R-101.pkl"
