# ATSS_PSS R50-FPN, 3x, multi-scale 480-800 (Table 1): same recipe as FCOS_PSS.
from ..common.models.atss_pss import model
from .fcos_pss_R_50_FPN_3x import dataloader, lr_multiplier, optimizer, train

model.backbone.bottom_up.freeze_at = 2
