"""OneNet's COCO recipe of the FPN detectors (RetinaNet and FCOS heads; OneNet configs
``onenet.{retinanet,fcos}.res50.yaml``): AdamW lr 4e-5, weight decay 1e-4, full-model gradient
clipping 1.0, batch 16, 270k iterations (3x: x0.1 at 210k and 250k), horizontal flip, DETR-style
random crop on half of the images, multi-scale short side 640-896 (max 1500), test 800/1333."""

from detectron2.config import LazyCall as L
from detectron2.data import transforms as T

from d2dense.solver import AdamWFullModelGradClip

from ..common.data.coco import dataloader
from ..common.schedules import lr_multiplier_3x as lr_multiplier
from ..common.train import optimizer, train

dataloader.train.mapper.augmentations = [
    L(T.RandomFlip)(horizontal=True),
    L(T.RandomApply)(
        tfm_or_aug=L(T.AugmentationList)(
            augs=[
                L(T.ResizeShortestEdge)(short_edge_length=[400, 500, 600], sample_style="choice"),
                L(T.RandomCrop)(crop_type="absolute_range", crop_size=(384, 600)),
            ]
        ),
        prob=0.5,
    ),
    L(T.ResizeShortestEdge)(
        short_edge_length=list(range(640, 897, 32)), max_size=1500, sample_style="choice"
    ),
]
optimizer._target_ = AdamWFullModelGradClip
del optimizer.momentum
optimizer.lr = 4e-5
optimizer.weight_decay = 1e-4
optimizer.clip_norm = 1.0
train.init_checkpoint = "detectron2://ImageNetPretrained/MSRA/R-50.pkl"
train.max_iter = 270000
