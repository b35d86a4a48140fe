# Table 2, ATSS_PSS without stop-grad.
from .atss_pss_R_50_FPN_3x import dataloader, lr_multiplier, model, optimizer, train

model.head.pss_stop_grad = False
model.pss_score_stop_grad = False
