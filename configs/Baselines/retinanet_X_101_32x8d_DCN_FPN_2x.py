# DeFCN Table 7: RetinaNet baseline with DeFCN's ResNeXt-101 32x8d + DCN backbone, 2x multi-scale.
from ..common.schedules import lr_multiplier_2x as lr_multiplier
from ..DeFCN.poto_3dmf_aux_X_101_32x8d_DCN_FPN_2x import model as _defcn
from ..DeFCN.poto_3dmf_aux_X_101_32x8d_DCN_FPN_2x import train as _defcn_train
from .retinanet_R_50_FPN_3x import dataloader, model, optimizer, train

model.backbone.bottom_up.stages = _defcn.backbone.bottom_up.stages
model.pixel_std = _defcn.pixel_std
train.init_checkpoint = _defcn_train.init_checkpoint
train.max_iter = _defcn_train.max_iter
