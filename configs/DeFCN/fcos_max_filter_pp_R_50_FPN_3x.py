# Table 5 (*): FCOS with 3D max filtering (phi 3, tau 2) as post-processing instead of NMS. The
# paper's FCOS rows of Tables 2 and 5 (19.0 / 40.9 AP w/o / w/ NMS) are vanilla FCOS, with
# centerness (Table 1's centerness-free baseline has 12.1 / 40.5). Same model and training as
# Baselines/fcos_R_50_FPN_3x.py: a trained FCOS checkpoint can be evaluated this way (--eval-only).
from ..Baselines.fcos_R_50_FPN_3x import dataloader, lr_multiplier, model, optimizer, train

model.test_max_filter = (3, 2)
