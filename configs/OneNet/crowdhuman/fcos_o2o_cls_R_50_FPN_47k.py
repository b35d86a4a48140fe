# Table 3 "FCOS + o2o + cls.": the end-to-end FCOS on CrowdHuman (OneNet's CrowdHuman setting: 1
# class, 46,875 iterations with x0.1 at 37,500, batch 16, no crop, 500 detections per image - the
# evaluator's cap on the model's 1000 raw candidates), 800/1400,
# full-body boxes, ignore regions never positives; evaluated w/o and w/ NMS (AP50, mMR, recall).
from fvcore.common.param_scheduler import MultiStepParamScheduler

from detectron2.config import LazyCall as L
from detectron2.solver import WarmupParamScheduler

from .._coco_recipe import optimizer, train
from ...common.data.crowdhuman import dataloader
from ...common.models.onenet_fcos import model

model.num_classes = 1
model.backbone.bottom_up.freeze_at = 2
train.max_iter = 46875
lr_multiplier = L(WarmupParamScheduler)(
    scheduler=L(MultiStepParamScheduler)(values=[1.0, 0.1], milestones=[37500], num_updates=46875),
    warmup_length=1000 / 46875,
    warmup_factor=0.01,
)
