"""OneNet's CenterNet-style detector, R50: ResNet + upsampling neck (DCN) to one stride-4 map and
the OneNet head, one point per location (Table 2, last column). Derived from the OneNet FCOS config:
same ResNet, assignment, loss and inference; the neck replaces the FPN and ltrb is regressed in
pixels. Trainable (synchronised) BN everywhere and no frozen stage, as OneNet."""

from detectron2.config import LazyCall as L
from d2dense.modeling import LinearBoxCoder

from onenet import OneNetCenterNetHead, ResNetDeconvBackbone

from .onenet_fcos import model

model.backbone.bottom_up.out_features = ["res2", "res3", "res4", "res5"]
model.backbone.bottom_up.freeze_at = 0
model.backbone.bottom_up.stem.norm = "SyncBN"
model.backbone.bottom_up.stages.norm = "SyncBN"
model.backbone = L(ResNetDeconvBackbone)(
    bottom_up=model.backbone.bottom_up, channels=[256, 128, 64], norm="SyncBN", deform=True
)
model.head = L(OneNetCenterNetHead)(
    in_channels=64, conv_dims=[64], num_classes="${..num_classes}", prior_prob=0.01
)
model.head_in_features = ["p2"]
model.anchor_generator.sizes = [[4]]
model.anchor_generator.strides = [4]
# the reference's ReLU decoding (negative_grad_slope=0); the CPU variant passes a gradient below 0
model.box2box_transform = L(LinearBoxCoder)(normalize_by_size=False, negative_grad_slope=0.0)
# One level: the one-to-many rule is centre sampling on it, without FCOS scale ranges.
model.assigner.scale_ranges = None
