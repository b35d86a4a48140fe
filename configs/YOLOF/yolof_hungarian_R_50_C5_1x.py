# Table 5e "Hungarian Matching": one-to-one matching of gts to predicted boxes on the uniform-matching
# cost (L1 over cx, cy, w, h), i.e. top-1 where an anchor matches at most one object (Sec. 5.2).
from .yolof_R_50_C5_1x import (
    dataloader,
    lr_multiplier,
    model,
    optimizer,
    train,
)

model.assigner.method = "hungarian"
