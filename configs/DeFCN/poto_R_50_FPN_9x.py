# Reference variant: POTO, 9x schedule.
from ..common.schedules import lr_multiplier_9x as lr_multiplier
from .poto_R_50_FPN_3x import dataloader, model, optimizer, train

train.max_iter = 810000
