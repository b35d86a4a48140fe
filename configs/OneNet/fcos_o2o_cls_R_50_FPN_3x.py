# Table 2 "FCOS + o2o", loc. + cls., pred.: the end-to-end detector (one-to-one, predicted location
# cost + classification cost, min cost per gt, no NMS), R50-FPN, OneNet's 3x recipe.
from ._coco_recipe import dataloader, lr_multiplier, optimizer, train
from ..common.models.onenet_fcos import model

model.backbone.bottom_up.freeze_at = 2
