# Table 8: DeFCN on CrowdHuman, R50-FPN, 30k iterations (steps 20k, 25k), 800/1400, inside-box prior,
# 500 detections per image (the evaluator's cap on the model's 1000 raw candidates), full-body
# boxes, ignore regions never positives.
from fvcore.common.param_scheduler import MultiStepParamScheduler

from detectron2.config import LazyCall as L
from detectron2.solver import WarmupParamScheduler

from ...common.data.crowdhuman import dataloader
from ...common.models.defcn import model
from ...common.train import optimizer, train

model.num_classes = 1
model.assigner.spatial_prior = "inside"
model.backbone.bottom_up.freeze_at = 2
train.init_checkpoint = "detectron2://ImageNetPretrained/MSRA/R-50.pkl"
train.max_iter = 30000
lr_multiplier = L(WarmupParamScheduler)(
    scheduler=L(MultiStepParamScheduler)(
        values=[1.0, 0.1, 0.01], milestones=[20000, 25000], num_updates=30000
    ),
    warmup_length=1000 / 30000,
    warmup_factor=0.001,
)
