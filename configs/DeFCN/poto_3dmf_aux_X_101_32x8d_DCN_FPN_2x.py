# Table 7: DeFCN with ResNeXt-101 32x8d + deformable conv (DCNv2 in res3-res5), 2x multi-scale.
# Deformable conv runs on torchvision.ops (d2dense.modeling.deform), so no compiled detectron2 op
# is needed; parameter names match detectron2's DeformBottleneckBlock.
from detectron2.config import LazyCall as L

from d2dense.modeling import make_resnet_stages

from ..common.schedules import lr_multiplier_2x as lr_multiplier
from .poto_3dmf_aux_R_50_FPN_3x import dataloader, model, optimizer, train

model.backbone.bottom_up.stages = L(make_resnet_stages)(
    depth=101,
    num_groups=32,
    width_per_group=8,
    deform_on_per_stage=[False, True, True, True],
    deform_modulated=True,
    norm="FrozenBN",
    stride_in_1x1=False,  # FAIR (torchvision-style) ImageNet weights
)
# FAIR's X-101-32x8d ImageNet model (a Caffe2 model) takes BGR input, as every detectron2 config
# for it: detectron2's BGR mean, and the ImageNet std in BGR order
# (COCO-Detection/faster_rcnn_X_101_32x8d_FPN_3x.yaml).
model.pixel_std = [57.375, 57.120, 58.395]
train.init_checkpoint = "detectron2://ImageNetPretrained/FAIR/X-101-32x8d.pkl"
train.max_iter = 180000
