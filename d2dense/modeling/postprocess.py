"""Final selection of detections shared by every d2dense detector."""

from typing import List, Optional

import numpy as np
import torch
from torchvision.ops import box_iou

from detectron2.layers import batched_nms
from detectron2.structures import Instances

__all__ = [
    "select_detections",
    "detect_single_image",
    "detect_batch",
    "greedy_suppression",
    "suppress_within_spatial_range",
]


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


def greedy_suppression(suppresses: torch.Tensor) -> torch.Tensor:
    """Greedy NMS on a precomputed relation: ``suppresses[i, j]`` says that candidate ``i``, when
    kept, removes ``j``; candidates are sorted best first. Returns the kept mask (``(M,)`` bool)."""
    rows = suppresses.triu(1).cpu().numpy()  # a candidate only removes worse ones
    keep = np.ones(len(rows), dtype=bool)
    for i in range(len(rows)):
        if keep[i]:
            keep[i + 1 :] &= ~rows[i, i + 1 :]
    return torch.from_numpy(keep).to(suppresses.device)


def suppress_within_spatial_range(
    score_maps: List[torch.Tensor],
    box_maps: List[torch.Tensor],
    kernel_size: int,
    iou_thresh: float,
    score_thresh: float,
    topk_candidates: int,
) -> List[torch.Tensor]:
    """NMS "in each scale" restricted to a "spatial range" (DeFCN Table 2): per image, level and
    class, greedy NMS at ``iou_thresh`` among the level's candidates (score > ``score_thresh``, its
    ``topk_candidates`` best, as the detector's decoding keeps), in which a prediction may only
    suppress those within the ``kernel_size`` x ``kernel_size`` window around its location. Every
    score but the surviving candidates' is set to 0, so the usual decoding keeps exactly those. ``kernel_size=1`` removes
    nothing (one prediction per location and class); a window over the whole map is plain
    class-aware NMS within each level.

    ``score_maps``: per level ``(N, K, H, W)``; ``box_maps``: per level ``(N, H*W, 4)``, the decoded
    box of each location in row-major order.
    """
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(
            f"spatial range must be an odd number of locations >= 1, got {kernel_size}"
        )
    radius = kernel_size // 2
    filtered = []
    for scores, boxes in zip(score_maps, box_maps):
        n, _, h, w = scores.shape
        flat = scores.reshape(n, -1)  # index = class * H*W + y * W + x
        kept = torch.zeros_like(flat, dtype=torch.bool)
        for i in range(n):
            cand = torch.nonzero(flat[i] > score_thresh).squeeze(1)
            # the level's best candidates, best first (topk, as detectron2's decoding)
            cand = cand[flat[i, cand].topk(min(topk_candidates, len(cand))).indices]
            cls, loc = cand // (h * w), cand % (h * w)
            y, x = loc // w, loc % w
            near = (
                ((y[:, None] - y[None]).abs() <= radius)
                & ((x[:, None] - x[None]).abs() <= radius)
                & (cls[:, None] == cls[None])
            )
            overlap = box_iou(boxes[i, loc], boxes[i, loc]) > iou_thresh
            kept[i, cand[greedy_suppression(near & overlap)]] = True
        filtered.append((flat * kept).reshape(scores.shape))
    return filtered
