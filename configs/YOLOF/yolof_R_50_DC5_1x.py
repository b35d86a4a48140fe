# YOLOF R50-DC5 1x (Table 9): res5 dilated (stride 16), 6 anchors 16..512, encoder dilations
# 4,8,12,16, Uniform Matching top-8 with positive-ignore 0.1 (Appendix B "Results with Dilated C5").
from .yolof_R_50_C5_1x import (
    dataloader,
    lr_multiplier,
    model,
    optimizer,
    train,
)

model.backbone.net.stages.res5_dilation = 2
model.backbone.block_dilations = [4, 8, 12, 16]
model.anchor_generator.sizes = [[16, 32, 64, 128, 256, 512]]
model.anchor_generator.strides = [16]
model.head.num_anchors = 6
model.assigner.topk = 8
model.assigner.pos_ignore_thresh = 0.1
