# Table 1 "CenterNet" o2o = Table 2 "CenterNet + o2o" loc. only, pre-def.: one-to-one by location
# cost
# only, on the grid points (L1 to the gt centre).
from .centernet_o2o_cls_R_50_DCN_270k import dataloader, lr_multiplier, model, optimizer, train

model.assigner.location_cost = "predefined"
model.assigner.weight_class = 0.0
