# RetinaNet end-to-end with exact Hungarian matching instead of min cost per gt (OneNet HEAD;
# the paper's "bipartite matching to avoid sample conflict").
from .retinanet_o2o_cls_R_50_FPN_3x import dataloader, lr_multiplier, model, optimizer, train

model.assigner.solver = "hungarian"
