from .fcos_R_50_FPN_3x import dataloader, lr_multiplier, model, optimizer, train

model.head.use_centerness = False
