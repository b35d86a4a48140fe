# Table 4 row 1: neither the Dilated Encoder nor Uniform Matching (projector + Max-IoU matching).
from .yolof_wo_encoder_R_50_C5_1x import (
    dataloader,
    lr_multiplier,
    model,
    optimizer,
    train,
)

model.assigner.method = "max_iou"
