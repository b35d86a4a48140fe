# Table 3 "two-step", step two: load the ATSS of atss_R_50_FPN_3x.py (step one, 36 epochs), freeze
# it and train only the PSS branch for 12 epochs (Sec. 4.2.2). Point train.init_checkpoint at the
# step-one model_final.pth if it was written elsewhere.
from ..common.schedules import lr_multiplier_1x as lr_multiplier
from .atss_pss_R_50_FPN_3x import dataloader, model, optimizer, train

model.training_mode = "pss_only"
train.init_checkpoint = "output/PSS/atss_R_50_FPN_3x/model_final.pth"
train.max_iter = 90000
