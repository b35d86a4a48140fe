from .head import PSSHead
from .losses import (
    base_log_scores,
    pss_log_scores,
    ranking_loss,
    ranking_negative_scores,
)
from .pss import ATSS_PSS, FCOS_PSS, PSSDetector, centerness_targets
