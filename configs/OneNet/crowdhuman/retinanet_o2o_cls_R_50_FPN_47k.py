# Table 3 "RetinaNet + o2o + cls.": the end-to-end RetinaNet on CrowdHuman (setting of
# fcos_o2o_cls_R_50_FPN_47k.py).
from .fcos_o2o_cls_R_50_FPN_47k import dataloader, lr_multiplier, optimizer, train
from ...common.models.onenet_retinanet import model

model.num_classes = 1
model.backbone.bottom_up.freeze_at = 2
