"""Final selection of detections shared by every d2dense detector."""

from typing import List, Optional

import torch

from detectron2.layers import batched_nms
from detectron2.structures import Instances

__all__ = ["select_detections", "detect_single_image", "detect_batch"]


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


def detect_single_image(detector, anchors, scores, deltas, image_size) -> Instances:
    """One image of a ``DenseDetector``: detectron2's per-level top-k + score threshold + box
    decoding, then :func:`select_detections`. ``scores`` / ``deltas`` are per-level ``(R_l, K)`` /
    ``(R_l, 4)``; the detector provides ``test_score_thresh``, ``test_topk_candidates``,
    ``test_nms_thresh`` and ``max_detections_per_image``."""
    pred = detector._decode_multi_level_predictions(
        anchors,
        scores,
        deltas,
        detector.test_score_thresh,
        detector.test_topk_candidates,
        image_size,
    )
    return select_detections(pred, detector.test_nms_thresh, detector.max_detections_per_image)


def detect_batch(detector, anchors, scores, deltas, image_sizes) -> List[Instances]:
    """:func:`detect_single_image` over a batch; ``scores`` / ``deltas`` per level ``(N, R_l, .)``."""
    return [
        detect_single_image(detector, anchors, [s[i] for s in scores], [d[i] for d in deltas], size)
        for i, size in enumerate(image_sizes)
    ]
