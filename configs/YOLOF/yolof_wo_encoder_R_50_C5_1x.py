# Table 4 row 3 / Table 5a N=0: no residual blocks (the projector alone, a plain SiSo encoder),
# Uniform Matching kept.
from .yolof_R_50_C5_1x import (
    dataloader,
    lr_multiplier,
    model,
    optimizer,
    train,
)

model.backbone.num_residual_blocks = 0
model.backbone.block_dilations = []
