# Table 1 "RetinaNet" o2o = Table 2 "RetinaNet + o2o" loc. only, pre-def.: one-to-one by location
# cost
# only, on the anchor boxes (L1 + GIoU).
from .retinanet_o2o_cls_R_50_FPN_3x import dataloader, lr_multiplier, model, optimizer, train

model.assigner.location_cost = "predefined"
model.assigner.weight_class = 0.0
