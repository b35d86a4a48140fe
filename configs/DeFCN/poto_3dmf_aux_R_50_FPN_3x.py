# DeFCN, full model (Table 1 last row; Table 7 R-50): POTO + 3DMF + Aux, R50-FPN, 3x, multi-scale 640-800.
from ..common.data.coco import dataloader
from ..common.models.defcn import model
from ..common.schedules import lr_multiplier_3x as lr_multiplier
from ..common.train import optimizer, train

model.backbone.bottom_up.freeze_at = 2
optimizer.lr = 0.01  # batch 16
train.init_checkpoint = "detectron2://ImageNetPretrained/MSRA/R-50.pkl"
train.max_iter = 270000
