from ..common.data.coco import dataloader
from ..common.models.fcos import model
from ..common.schedules import lr_multiplier_1x as lr_multiplier
from ..common.train import optimizer, train

dataloader.train.mapper.use_instance_mask = False
model.backbone.bottom_up.freeze_at = 2
train.init_checkpoint = "detectron2://ImageNetPretrained/MSRA/R-50.pkl"
train.max_iter = 90000
