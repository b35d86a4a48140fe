# Table 4 row 2 / Table 5e "Max-IoU Matching": Dilated Encoder kept, RetinaNet's Max-IoU matching
# (positive >= 0.5, negative < 0.4, low-quality matches) instead of Uniform Matching.
from .yolof_R_50_C5_1x import (
    dataloader,
    lr_multiplier,
    model,
    optimizer,
    train,
)

model.assigner.method = "max_iou"
