# FCOS_PSS R50-FPN, 3x (36 epochs), multi-scale training 480-800 step 32 (Table 1). Every PSS
# experiment derives from this file; Tables 5-9 are override grids in projects/studies_pss.py.
from detectron2.config import LazyCall as L
from detectron2.solver import WarmupParamScheduler
from fvcore.common.param_scheduler import MultiStepParamScheduler

from d2dense.solver import SGDFullModelGradClip

from ..common.data.coco import dataloader
from ..common.models.fcos_pss import model
from ..common.train import optimizer, train

dataloader.train.mapper.augmentations[0].short_edge_length = tuple(range(480, 801, 32))
model.backbone.bottom_up.freeze_at = 2
optimizer.lr = 0.01  # batch 16, momentum 0.9, weight decay 1e-4 (Sec. 4.1)
# the mmdetection recipe of the PSS repository clips the norm of all gradients at 35
optimizer._target_ = SGDFullModelGradClip
optimizer.clip_norm = 35.0
train.init_checkpoint = "detectron2://ImageNetPretrained/MSRA/R-50.pkl"
train.max_iter = 270000
# Sec. 4.1: x0.1 at epochs 24 and 33 of 36; mmdetection's linear warm-up (500 iterations, 1/3).
lr_multiplier = L(WarmupParamScheduler)(
    scheduler=L(MultiStepParamScheduler)(
        values=[1.0, 0.1, 0.01], milestones=[180000, 247500], num_updates=270000
    ),
    warmup_length=500 / 270000,
    warmup_method="linear",
    warmup_factor=1.0 / 3,
)
