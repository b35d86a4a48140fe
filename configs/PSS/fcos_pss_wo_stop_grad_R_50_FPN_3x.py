# Table 2, FCOS_PSS without stop-grad: the PSS losses also train the towers, FPN and backbone
# (through the PSS branch input) and the classifier / centerness (through P-hat).
from .fcos_pss_R_50_FPN_3x import dataloader, lr_multiplier, model, optimizer, train

model.head.pss_stop_grad = False
model.pss_score_stop_grad = False
