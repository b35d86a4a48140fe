"""yacs keys of DeFCN (``MODEL.META_ARCHITECTURE: DeFCN``); defaults are the paper's COCO setting."""

from detectron2.config import CfgNode as CN

__all__ = ["add_defcn_config"]


def add_defcn_config(cfg: CN) -> None:
    _C = cfg
    _C.MODEL.DEFCN = CN()
    c = _C.MODEL.DEFCN
    c.NUM_CLASSES = 80
    c.IN_FEATURES = ["p3", "p4", "p5", "p6", "p7"]
    c.NUM_CONVS = 4
    c.NORM = "GN"
    # learnable per-level box scale (FCOS / cvpods); off as in detectron2's FCOS
    c.LEVEL_SCALES = False
    c.PRIOR_PROB = 0.01
    # 3D Max Filtering (Sec. 3.2.2): spatial kernel phi, scale range tau, norm "" = w/o GN
    c.USE_3DMF = True
    c.FILTER_KERNEL_SIZE = 3
    c.FILTER_TAU = 2
    c.FILTER_NORM = "GN"
    # Assignment (Sec. 3.1-3.2): poto | fg_loss | anchor | center | fcos (one-to-many baseline)
    c.ASSIGNER = "poto"
    c.SOLVER = "hungarian"  # or "argmax"
    c.POTO_ALPHA = 0.8
    c.QUALITY = "mul"  # or "add" (Table 4)
    c.SPATIAL_PRIOR = "center"  # center | inside | global (Table 3); CrowdHuman: inside
    c.CENTER_SAMPLING_RADIUS = 1.5
    c.AUX_TOPK = 9
    c.ANCHOR_SCALE = 4.0  # "anchor" rule: one square anchor of side ANCHOR_SCALE * stride per point
    c.UNMATCHED = "drop"  # gt with no candidate: "drop" (no positive, logged) or "reference"
    c.AUX_LOSS_WEIGHT = 1.0  # 0 disables the auxiliary loss
    c.REG_LOSS_WEIGHT = 2.0
    c.FOCAL_LOSS_ALPHA = 0.25
    c.FOCAL_LOSS_GAMMA = 2.0
    c.SCORE_THRESH_TEST = 0.05
    c.TOPK_CANDIDATES_TEST = 1000
    c.NMS_THRESH_TEST = -1.0  # < 0: no NMS (end-to-end)
    c.TEST_MAX_FILTER = []  # [phi, tau]: 3D max filtering as post-processing (Table 5)
