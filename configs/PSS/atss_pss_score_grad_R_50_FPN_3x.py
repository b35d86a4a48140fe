# ATSS_PSS with the stop-grad on the PSS branch input only: see fcos_pss_score_grad_R_50_FPN_3x.py.
from .atss_pss_R_50_FPN_3x import dataloader, lr_multiplier, model, optimizer, train

model.pss_score_stop_grad = False
