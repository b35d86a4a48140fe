# Fig. 1 / Fig. 3 "MiSo": RetinaNet R50 on one P5 fused from C3-C5 (FPN top-down + PANet-like
# bottom-up path, Appendix A); same collapsed single-level anchors as SiSo.
from detectron2.config import LazyCall as L

from yolof import MultiInSingleOutEncoder

from .retinanet_siso_R_50_1x import (
    dataloader,
    lr_multiplier,
    model,
    optimizer,
    train,
)

model.backbone._target_ = MultiInSingleOutEncoder
del model.backbone.in_feature
model.backbone.in_features = ["res3", "res4", "res5"]
model.backbone.net.out_features = ["res3", "res4", "res5"]
