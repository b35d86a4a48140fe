# YOLOF R101-C5 1x (Table 1 "YOLOF-R101"): the R50 recipe with ResNet-101.
from .yolof_R_50_C5_1x import (
    dataloader,
    lr_multiplier,
    model,
    optimizer,
    train,
)

model.backbone.net.stages.depth = 101
train.init_checkpoint = "detectron2://ImageNetPretrained/MSRA/R-101.pkl"
