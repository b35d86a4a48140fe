# Table 5 (*): the FCOS w/o centerness baseline with 3D max filtering (phi 3, tau 2) as
# post-processing instead of NMS. Same model and training as the baseline; a trained baseline
# checkpoint can be evaluated this way with --eval-only.
from ..Baselines.fcos_wo_ctr_R_50_FPN_3x import dataloader, lr_multiplier, model, optimizer, train

model.test_max_filter = (3, 2)
