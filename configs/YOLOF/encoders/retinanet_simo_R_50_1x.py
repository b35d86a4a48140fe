# Fig. 1 / Fig. 3 "SiMo": RetinaNet R50 whose FPN is fed by C5 alone (P3-P7 from C5, no C3/C4
# laterals). MiMo is the plain RetinaNet-FPN, configs/Baselines/retinanet_R_50_FPN_1x.py.
from detectron2.config import LazyCall as L

from yolof import SingleInMultiOutEncoder

from ...Baselines.retinanet_R_50_FPN_1x import (
    dataloader,
    lr_multiplier,
    model,
    optimizer,
    train,
)

resnet = model.backbone.bottom_up
resnet.out_features = ["res5"]
model.backbone = L(SingleInMultiOutEncoder)(net=resnet, in_feature="res5", out_channels=256)
train.cpu_scale_hook = "yolof.config.apply_cpu_scale"
