"""Final selection of detections shared by every d2dense detector."""
from typing import Optional

import torch

from detectron2.layers import batched_nms
from detectron2.structures import Instances

__all__ = ["select_detections"]


def select_detections(
    pred: Instances, nms_thresh: Optional[float], max_detections: int
) -> Instances:
    """Keep the ``max_detections`` best detections of one image, after class-aware NMS if asked.

    ``nms_thresh=None`` is the NMS-free path (DeFCN, PSS, OneNet, and any detector evaluated
    "w/o NMS"): detections are only sorted by score and truncated, so the output is the
    detector's raw candidates. Detectron2's dense detectors always run ``batched_nms``; here NMS is
    a choice, which is what lets one evaluation pass report both columns
    (see :class:`d2dense.evaluation.NMSAwareCOCOEvaluator`).
    """
    if nms_thresh is None:
        keep = torch.argsort(pred.scores, descending=True)
    else:
        keep = batched_nms(pred.pred_boxes.tensor, pred.scores, pred.pred_classes, nms_thresh)
    return pred[keep[:max_detections]]
