"""Derive the "w/o NMS" and "w/ NMS" columns from a detector's raw candidate list.

Every detector of this repository returns, in ``outputs[i]["instances"]``, its candidates
*without* NMS (possibly more than the final cap, e.g. 1000). The papers reproduced here
(DeFCN, PSS, OneNet, ...) report the same model twice, once as is and once after a class-aware
NMS, so both columns are derived from that single list at evaluation time instead of running the
model twice.
"""

from typing import Tuple

import torch

from detectron2.layers import batched_nms
from detectron2.structures import Instances

__all__ = ["split_nms_columns", "top_k_by_score", "nms_top_k"]


def top_k_by_score(instances: Instances, max_dets: int) -> Instances:
    """
    The "w/o NMS" column: the ``max_dets`` highest-scoring candidates, in decreasing score order.

    The sort is stable so that ties keep the detector's order and results are reproducible.
    """
    order = torch.sort(instances.scores, descending=True, stable=True).indices
    return instances[order[:max_dets]]


def nms_top_k(instances: Instances, nms_thresh: float, max_dets: int) -> Instances:
    """
    The "w/ NMS" column: class-aware NMS at IoU ``nms_thresh`` over *all* candidates, then the
    ``max_dets`` highest-scoring survivors.

    NMS runs before the cap on purpose: capping first would let duplicates crowd out distinct
    lower-scoring objects, which is not what a detector with an NMS post-process would output.
    """
    if len(instances) == 0:
        return instances
    # batched_nms returns the kept indices sorted by decreasing score.
    keep = batched_nms(
        instances.pred_boxes.tensor, instances.scores, instances.pred_classes, nms_thresh
    )
    return instances[keep[:max_dets]]


def split_nms_columns(
    instances: Instances, nms_thresh: float, max_dets: int
) -> Tuple[Instances, Instances]:
    """
    Args:
        instances: raw candidates with ``pred_boxes`` (XYXY_ABS), ``scores`` and ``pred_classes``.
        nms_thresh: IoU threshold of the class-aware NMS.
        max_dets: final number of detections kept per image in each column.

    Returns:
        (raw, nms): the "w/o NMS" and "w/ NMS" columns, each sorted by decreasing score.
    """
    for field in ("pred_boxes", "scores", "pred_classes"):
        if not instances.has(field):
            raise ValueError(
                f"Evaluation expects instances with 'pred_boxes', 'scores' and 'pred_classes'; "
                f"'{field}' is missing (fields: {list(instances.get_fields())})."
            )
    return top_k_by_score(instances, max_dets), nms_top_k(instances, nms_thresh, max_dets)
