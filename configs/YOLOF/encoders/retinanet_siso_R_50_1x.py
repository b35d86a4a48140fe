# Fig. 1 / Fig. 3 "SiSo": RetinaNet R50 on P5 = conv3x3(conv1x1(C5)) only. Its anchors collapse the
# five levels' scales onto P5 (Sec. 4.2 footnote): 5 square anchors of 32..512 per location.
from detectron2.config import LazyCall as L
from detectron2.layers import ShapeSpec

from yolof import SingleInSingleOutEncoder

from ...Baselines.retinanet_R_50_FPN_1x import (
    dataloader,
    lr_multiplier,
    model,
    optimizer,
    train,
)

resnet = model.backbone.bottom_up
resnet.out_features = ["res5"]
model.backbone = L(SingleInSingleOutEncoder)(net=resnet, in_feature="res5", out_channels=256)
model.head_in_features = ["p5"]
model.head.input_shape = [ShapeSpec(channels=256)]
model.head.num_anchors = 5
model.anchor_generator.sizes = [[32, 64, 128, 256, 512]]
model.anchor_generator.aspect_ratios = [1.0]
model.anchor_generator.strides = [32]
train.cpu_scale_hook = "yolof.config.apply_cpu_scale"
