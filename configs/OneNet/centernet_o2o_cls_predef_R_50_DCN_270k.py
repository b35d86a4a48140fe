# Table 2 "CenterNet + o2o", loc. + cls., pre-def.: location cost on the grid points (L1 to the gt
# centre)
# plus classification cost.
from .centernet_o2o_cls_R_50_DCN_270k import dataloader, lr_multiplier, model, optimizer, train

model.assigner.location_cost = "predefined"
