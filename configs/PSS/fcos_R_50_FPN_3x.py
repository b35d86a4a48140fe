# FCOS baseline under the PSS recipe (Table 1 "FCOS"): the same network and L_fcos with the PSS
# branch left untrained and unused; raw candidates out, the evaluator's NMS 0.6 column is the
# paper's number. Also step one of the two-step training (Table 3).
from .fcos_pss_R_50_FPN_3x import dataloader, lr_multiplier, model, optimizer, train

model.training_mode = "base_only"
model.inference_mode = "one_to_many"
model.max_detections_per_image = 1000
