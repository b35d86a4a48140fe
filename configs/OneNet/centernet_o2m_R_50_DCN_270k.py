# Table 1 "CenterNet" (original, one-to-many): centre sampling (1.5 strides) on the stride-4 map,
# smallest gt wins
# (CenterNet itself trains on Gaussian heatmaps; the loss here is the same for every row).
from .centernet_o2o_cls_R_50_DCN_270k import dataloader, lr_multiplier, model, optimizer, train

model.assigner.assignment = "fcos"
