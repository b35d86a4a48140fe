# Table 4, FCOS_PSS with the PSS branch on the classification tower.
from .fcos_pss_R_50_FPN_3x import dataloader, lr_multiplier, model, optimizer, train

model.head.pss_branch = "classification"
