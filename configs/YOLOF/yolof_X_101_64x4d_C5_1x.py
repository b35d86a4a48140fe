# YOLOF X101-64x4d-C5 1x (Table 1 "YOLOF-X101"): ResNeXt-101 64x4d, batch 32, lr 0.06, 45k iterations
# (steps 30k / 40k, 3000 warm-up iterations), as the paper's Appendix A and the public implementation.
#
# Weights: detectron2's model zoo has no ImageNet X-101-64x4d; convert torchvision's
# `resnext101_64x4d` (IMAGENET1K_V1) with detectron2's tools/convert-torchvision-to-d2.py and pass
# it as train.init_checkpoint=... (train_net.py refuses to train this frozen-BN backbone without
# it). torchvision models take RGB input normalised by the ImageNet std and put the stride in the
# 3x3 conv, hence the three keys below.
from .yolof_R_50_C5_1x import (
    dataloader,
    lr_multiplier,
    model,
    optimizer,
    train,
)

stages = model.backbone.net.stages
stages.depth = 101
stages.num_groups = 64
stages.width_per_group = 4
stages.stride_in_1x1 = False
model.pixel_mean = [123.675, 116.28, 103.53]
model.pixel_std = [58.395, 57.12, 57.375]
dataloader.train.mapper.image_format = "RGB"
dataloader.test.mapper.image_format = "RGB"
train.init_checkpoint = ""
dataloader.train.total_batch_size = 32
optimizer.lr = 0.06
train.max_iter = 45000
lr_multiplier.steps = (30000, 40000)
lr_multiplier.warmup_iters = 3000
lr_multiplier.warmup_factor = 1.0 / 3000
