# Table 2 "RetinaNet + o2o", loc. + cls., pre-def.: location cost on the anchor boxes (L1 + GIoU)
# plus classification cost.
from .retinanet_o2o_cls_R_50_FPN_3x import dataloader, lr_multiplier, model, optimizer, train

model.assigner.location_cost = "predefined"
