# Table 1 "FCOS" o2o = Table 2 "FCOS + o2o" loc. only, pre-def.: one-to-one by location cost
# only, on the grid points (L1 to the gt centre).
from .fcos_o2o_cls_R_50_FPN_3x import dataloader, lr_multiplier, model, optimizer, train

model.assigner.location_cost = "predefined"
model.assigner.weight_class = 0.0
model.assigner.fpn_level_prior = True  # the gt's pre-defined FPN level (Sec. 3.3)
