# ATSS baseline under the PSS recipe (Table 1 "ATSS"), and step one of the two-step training
# (Table 3): ATSS_PSS with the PSS branch untrained and unused; NMS in the evaluator.
from .atss_pss_R_50_FPN_3x import dataloader, lr_multiplier, model, optimizer, train

model.training_mode = "base_only"
model.inference_mode = "one_to_many"
model.max_detections_per_image = 1000
