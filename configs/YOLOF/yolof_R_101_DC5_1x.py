# YOLOF R101-DC5 1x (Table 9 "YOLOF-DC5-R101*"): 4 images per GPU (batch 32), lr 0.06 by the linear
# rule, 45k iterations with steps 30k / 40k and 3000 warm-up iterations (public implementation).
from .yolof_R_50_DC5_1x import (
    dataloader,
    lr_multiplier,
    model,
    optimizer,
    train,
)

model.backbone.net.stages.depth = 101
train.init_checkpoint = "detectron2://ImageNetPretrained/MSRA/R-101.pkl"
dataloader.train.total_batch_size = 32
optimizer.lr = 0.06
train.max_iter = 45000
lr_multiplier.steps = (30000, 40000)
lr_multiplier.warmup_iters = 3000
lr_multiplier.warmup_factor = 1.0 / 3000
