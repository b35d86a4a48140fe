"""Evaluators reporting every metric "w/o NMS" and "w/ NMS" from one inference pass.

Detectors of this repository return their candidates *without* NMS; the evaluators derive both
columns (top-k by score, and class-aware NMS then top-k) and report the difference:

- :class:`NMSAwareCOCOEvaluator`: COCO AP/AP50/AP75/APs/APm/APl and AR@max_dets (pycocotools).
- :class:`CrowdEvaluator`: AP@0.5, log-average miss rate (mMR) and recall with ignore regions,
  for person datasets (CrowdHuman, Penn-Fudan, COCO person views).
- :func:`build_evaluators`: the evaluators a registered dataset needs, from its metadata.
"""

from .columns import nms_top_k, split_nms_columns, top_k_by_score
from .coco_nms_evaluation import NMSAwareCOCOEvaluator, ensure_dataset_id_map
from .crowd_evaluation import (
    CrowdEvaluator,
    average_precision,
    crowd_metrics,
    log_average_miss_rate,
    match_detections,
)
from .build import build_evaluators

__all__ = [
    "build_evaluators",
    "NMSAwareCOCOEvaluator",
    "CrowdEvaluator",
    "match_detections",
    "average_precision",
    "log_average_miss_rate",
    "crowd_metrics",
    "split_nms_columns",
    "top_k_by_score",
    "nms_top_k",
    "ensure_dataset_id_map",
]
