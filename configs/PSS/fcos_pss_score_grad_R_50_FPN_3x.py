# FCOS_PSS with the stop-grad on the PSS branch input only (Fig. 1's "Stop-grad" box): sigma(cls)
# and sigma(ctr) inside P-hat stay differentiable, so L_pss and L_rank also reach the FCOS
# classifier and center-ness through the score product. This is the reading of footnote 4 ("not
# zero impact because L_pss is coupled with the FCOS classifier"); the default config detaches
# them too, so that no PSS gradient reaches the base network (our choice, pss/README.md).
from .fcos_pss_R_50_FPN_3x import dataloader, lr_multiplier, model, optimizer, train

model.pss_score_stop_grad = False
