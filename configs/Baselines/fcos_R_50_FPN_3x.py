from ..common.schedules import lr_multiplier_3x as lr_multiplier
from .fcos_R_50_FPN_1x import dataloader, model, optimizer, train

train.max_iter = 270000
