"""yacs keys of PSS (``MODEL.META_ARCHITECTURE: FCOS_PSS`` or ``ATSS_PSS``).

Defaults are the paper's COCO setting; keys marked "choice" are details the paper leaves open
(see pss/README.md, "Decisions").
"""

from detectron2.config import CfgNode as CN

__all__ = ["add_pss_config"]


def add_pss_config(cfg: CN) -> None:
    _C = cfg
    _C.MODEL.PSS = CN()
    c = _C.MODEL.PSS
    # Base detector (FCOS / ATSS) network and L_fcos
    c.NUM_CLASSES = 80
    c.IN_FEATURES = ["p3", "p4", "p5", "p6", "p7"]
    c.NUM_CONVS = 4
    c.NORM = "GN"
    # learnable per-level box scale (FCOS / cvpods); off as in detectron2's FCOS
    c.LEVEL_SCALES = False
    c.PRIOR_PROB = 0.01
    c.USE_CENTERNESS = True  # Table 6
    c.FOCAL_LOSS_ALPHA = 0.25
    c.FOCAL_LOSS_GAMMA = 2.0
    c.BOX_REG_LOSS_WEIGHT = 2.0  # GIoU weight of the PSS repository's mmdetection configs
    c.CENTERNESS_WEIGHTED_BOX_LOSS = (
        True  # mmdetection FCOS / ATSS; kept w/o the branch (Sec. 4.2.5)
    )
    c.CENTER_SAMPLING_RADIUS = 1.5  # FCOS_PSS
    c.ANCHOR_SCALE = 8.0  # ATSS_PSS: one square anchor of side 8 * stride per location
    c.ATSS_TOPK = 9  # ATSS_PSS
    # PSS branch (Sec. 3, Fig. 1)
    c.PSS_NUM_CONVS = 2  # Table 5
    c.PSS_BRANCH = "regression"  # or "classification" (Table 4)
    c.PSS_NORM = "GN"  # choice
    c.PSS_STOP_GRAD = True  # Table 2: detach the PSS branch input
    c.PSS_SCORE_STOP_GRAD = True  # choice: sigma(cls) * sigma(ctr) constant in L_pss / L_rank
    # One-to-one labels (Eq. 3)
    c.OMEGA = "positives"  # choice: "positives" (after the tie-break) or "prior" (before)
    c.ONE_TO_ONE_SOLVER = "hungarian"  # or "argmax" (top-one selection)
    c.QUALITY_ALPHA = 0.8  # Table 8
    c.QUALITY_MODE = "mul"  # or "add" (Table 8)
    # Losses (Eq. 1-2)
    c.PSS_LOSS_WEIGHT = 1.0  # lambda_1, Table 7
    c.RANK_LOSS_WEIGHT = 0.25  # lambda_2; 0 = no ranking loss (Table 9)
    c.RANK_MARGIN = 0.5  # gamma
    c.RANK_NUM_NEGATIVES = 100  # n_-
    c.RANK_NEGATIVES = "max_class"  # choice: "max_class" or "all_classes"
    # Modes: end_to_end | base_only (baseline / two-step step one) | pss_only (step two, Table 3)
    c.TRAINING_MODE = "end_to_end"
    c.INFERENCE_MODE = "pss"  # or "one_to_many": discard the PSS branch
    c.SCORE_THRESH_TEST = 0.05
    c.TOPK_CANDIDATES_TEST = 1000
    c.NMS_THRESH_TEST = -1.0  # < 0: no NMS
