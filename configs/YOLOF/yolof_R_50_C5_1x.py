# YOLOF R50-C5 1x (Table 1 "YOLOF"): batch 64, lr 0.12 (backbone x1/3), 22.5k iterations with steps
# 15k / 20k, 1500 warm-up iterations; single-scale 800 training with flip + random shift (32 px).
from detectron2.config import LazyCall as L
from detectron2.data import transforms as T

from yolof import PrefixLRFactor, RandomShift, step_lr_multiplier

from ..common.data.coco import dataloader
from ..common.models.yolof import model
from ..common.train import optimizer, train

model.backbone.net.freeze_at = 2
dataloader.train.mapper.augmentations = [
    L(T.ResizeShortestEdge)(short_edge_length=(800,), max_size=1333, sample_style="choice"),
    L(T.RandomFlip)(horizontal=True),
    L(RandomShift)(max_shift=32, prob=0.5),
]
dataloader.train.total_batch_size = 64
optimizer.lr = 0.12
optimizer.params.base_lr = "${..lr}"
optimizer.params.lr_factor_func = L(PrefixLRFactor)(prefix="backbone.net.", factor=1.0 / 3)
lr_multiplier = L(step_lr_multiplier)(
    max_iter="${train.max_iter}", steps=(15000, 20000), warmup_iters=1500, warmup_factor=1.0 / 1500
)
train.init_checkpoint = "detectron2://ImageNetPretrained/MSRA/R-50.pkl"
train.max_iter = 22500
train.cpu_scale_hook = "yolof.config.apply_cpu_scale"
