# Table 2 "CenterNet + o2o", loc. + cls., pred.: the end-to-end CenterNet-style detector (OneNet
# R50 dcn):
# ResNet-50 + DCN upsampling to stride 4, OneNet's recipe: AdamW lr 5e-5 without gradient clipping,
# batch 64, 270k iterations, short side 416-512 (max 853) + random crop, test 512/853.
import torch

from ._coco_recipe import dataloader, lr_multiplier, optimizer, train
from ..common.models.onenet_centernet import model

dataloader.train.mapper.augmentations[2].short_edge_length = [416, 448, 480, 512]
dataloader.train.mapper.augmentations[2].max_size = 853
dataloader.test.mapper.augmentations[0].short_edge_length = 512
dataloader.test.mapper.augmentations[0].max_size = 853
dataloader.train.total_batch_size = 64
optimizer._target_ = torch.optim.AdamW
del optimizer.clip_norm
optimizer.lr = 5e-5
# scale=cpu: the CPU study's SGD and this detector's own R18 neck (not an R18-FPN).
train.cpu_scale_hook = "onenet.config.centernet_cpu_scale"
