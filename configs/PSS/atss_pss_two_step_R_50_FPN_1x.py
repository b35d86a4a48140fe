# Table 3 "two-step", step two: load the ATSS of atss_R_50_FPN_3x.py (step one, 36 epochs), freeze
# it and train only the PSS branch for 12 epochs (Sec. 4.2.2). Point train.init_checkpoint at the
# step-one model_final.pth if it was written elsewhere. The paper gives no schedule for step two:
# this is the mmdetection 1x of the PSS recipe (x0.1 at epochs 8 and 11, 500 warm-up iterations
# from 1/3), the 3x schedule of the other PSS configs shortened.
from .atss_pss_R_50_FPN_3x import dataloader, lr_multiplier, model, optimizer, train

model.training_mode = "pss_only"
train.init_checkpoint = "output/PSS/atss_R_50_FPN_3x/model_final.pth"
train.max_iter = 90000
lr_multiplier.scheduler.milestones = [60000, 82500]
lr_multiplier.scheduler.num_updates = train.max_iter
lr_multiplier.warmup_length = 500 / train.max_iter
