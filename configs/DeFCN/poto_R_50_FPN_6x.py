# Reference variant: POTO, 6x schedule.
from ..common.schedules import lr_multiplier_6x as lr_multiplier
from .poto_R_50_FPN_3x import dataloader, model, optimizer, train

train.max_iter = 540000
