"""matchcost: label assignment for dense detectors (DeFCN / POTO, PSS, OneNet, YOLOF).

torch + numpy + scipy only (no detectron2). See ``docs/matchcost.md``.

Layers:
  * :mod:`matchcost.boxes`   - IoU / GIoU (pairwise and on sparse pairs), box conversions, point-in-box.
  * :mod:`matchcost.costs`   - qualities and costs (POTO, focal, GIoU, L1, cxcywh-L1, centre distance).
  * :mod:`matchcost.priors`  - candidate sets (centre sampling, inside box, global, FCOS, ATSS) and the
    classic one-to-many assignments (FCOS, ATSS, RetinaNet Max-IoU).
  * :mod:`matchcost.solvers` - exact sparse Hungarian, argmax, top-1 / top-k per gt.
  * :mod:`matchcost.assigners` - one-call rules per method.
"""

from .assigners import (
    anchor_rule_assign,
    center_rule_assign,
    defcn_aux_assign,
    foreground_loss_assign,
    onenet_assign,
    per_image,
    point_anchors,
    poto_assign,
    pss_assign,
    uniform_assign,
)
from .boxes import (
    box_area,
    box_centers,
    box_cxcywh_to_xyxy,
    box_xyxy_to_cxcywh,
    elementwise_giou,
    elementwise_iou,
    elementwise_ltrb,
    pairwise_giou,
    pairwise_iou,
    point_box_ltrb,
    points_in_boxes,
)
from .costs import (
    center_distance,
    class_prob,
    combine_quality,
    cxcywh_l1_cost,
    focal_class_cost,
    focal_loss_cost,
    foreground_loss_cost,
    giou_cost,
    iou_quality,
    l1_cost,
    onenet_cost,
    poto_quality,
)
from .priors import (
    FCOS_SCALE_RANGES,
    atss_assign,
    atss_prior,
    center_sampling_prior,
    exclusive_by,
    fcos_assign,
    fcos_prior,
    fpn_level_prior,
    global_prior,
    gt_fpn_levels,
    inside_box_prior,
    level_slices,
    max_iou_assign,
    region_candidates,
)
from .solvers import (
    argmax_assign,
    dense_lsa,
    hungarian,
    max_weight_matching,
    segment_best,
    top1_per_gt,
    topk_per_gt,
)
from .structures import BACKGROUND, IGNORE, Assignment, Candidates, as_candidates, labels_from_pairs

import types as _types

__all__ = sorted(
    k
    for k, v in dict(globals()).items()
    if not k.startswith("_") and not isinstance(v, _types.ModuleType)
)
