# Table 1 "RetinaNet" (original, one-to-many): Max-IoU (IoU >= 0.5 positive, < 0.4 negative,
# low-quality matches kept).
from .retinanet_o2o_cls_R_50_FPN_3x import dataloader, lr_multiplier, model, optimizer, train

model.assigner.assignment = "max_iou"
