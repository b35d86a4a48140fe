# Table 5e "ATSS(topk=15)" (Table 8's best k); ATSS k=9 is the override model.assigner.atss_topk=9.
from .yolof_R_50_C5_1x import (
    dataloader,
    lr_multiplier,
    model,
    optimizer,
    train,
)

model.assigner.method = "atss"
model.assigner.atss_topk = 15
