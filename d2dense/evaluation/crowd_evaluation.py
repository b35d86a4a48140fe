"""
Pedestrian ("crowd") evaluation: AP@0.5, log-average miss rate (mMR) and recall, with ignore
regions, for any person dataset (CrowdHuman, Penn-Fudan, COCO person views).

Protocol (Caltech Pedestrian [Dollar et al., PAMI 2012] as adopted by CrowdHuman
[Shao et al., arXiv:1805.00123]):

* Matching, per image, greedily by descending score. A detection is a true positive when its best
  IoU with a still-unmatched normal ground truth is >= ``iou_thresh`` (0.5); that ground truth is
  then taken. Otherwise, if it covers an ignore region (``iscrowd=1``) with intersection over the
  *detection's* area (IoA) >= ``iou_thresh``, it is ignored (neither TP nor FP); ignore regions can
  absorb any number of detections. Otherwise it is a false positive. Ignore regions never count as
  positives. Boxes are continuous XYXY (area = w * h, no "+1").
* AP@0.5: area under the precision/recall curve of all detections of the dataset sorted by score,
  with the all-point interpolation of PASCAL VOC 2010+ (precision replaced by its monotone
  envelope, integrated at every recall step). Note: the CrowdHuman toolkit integrates the raw
  curve with the trapezoidal rule instead; the two differ by a fraction of a point.
* mMR: miss rate against false positives per image (FPPI) over the same sorted list. At each of
  the 9 reference FPPIs evenly spaced in log space over [1e-2, 1] (10^-2, 10^-1.75, ..., 10^0)
  take the miss rate of the operating point with the largest FPPI <= the reference (the lowest
  miss rate at that FPPI); the curve starts at "no detection" (FPPI 0, miss rate 1), so a
  reference that no detection reaches gets 1.0. mMR is the geometric mean of the 9 values, with
  miss rates clamped to >= 1e-10 before the log as in the Caltech toolbox (so a perfect detector
  gets 1e-10, and a curve that reaches miss rate 0 only at high FPPI is still ranked above one
  that reaches it at FPPI 0).
* recall: matched ground truths / normal ground truths, using all kept detections.

A metric without normal ground truth in the evaluated images is NaN (undefined); a detector that
outputs nothing scores AP 0, recall 0, mMR 100; a perfect one AP 100, recall 100, mMR 1e-8 (%).
"""

import copy
import itertools
import json
import logging
import os
from collections import OrderedDict

import numpy as np
import torch
from tabulate import tabulate

import detectron2.utils.comm as comm
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.evaluation import DatasetEvaluator
from detectron2.structures import BoxMode
from detectron2.utils.file_io import PathManager

from .columns import split_nms_columns

__all__ = [
    "CrowdEvaluator",
    "match_detections",
    "average_precision",
    "log_average_miss_rate",
    "crowd_metrics",
]

logger = logging.getLogger(__name__)

# Reference FPPIs of the log-average miss rate: 9 points evenly spaced in log space over [1e-2, 1].
MR_REF_FPPI = np.logspace(-2.0, 0.0, 9)
# Miss rates are clamped to this before the log (Caltech toolbox), so log(0) never happens.
MR_MIN = 1e-10
_METRICS = ("AP50", "mMR", "recall")


def _pairwise_intersection(a, b):
    """(N, 4) x (M, 4) XYXY -> (N, M) intersection areas."""
    wh = np.minimum(a[:, None, 2:], b[None, :, 2:]) - np.maximum(a[:, None, :2], b[None, :, :2])
    wh = np.clip(wh, 0, None)
    return wh[..., 0] * wh[..., 1]


def _area(boxes):
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)


def _safe_div(num, den):
    return np.divide(num, den, out=np.zeros_like(num, dtype=np.float64), where=den > 0)


def match_detections(dt_boxes, dt_scores, gt_boxes, gt_ignore=None, iou_thresh=0.5):
    """
    Match one image's detections to its ground truth (see the module docstring for the rule).

    Args:
        dt_boxes (array (D, 4)): XYXY detections.
        dt_scores (array (D,)): their scores; matching goes by descending score (stable on ties).
        gt_boxes (array (G, 4)): XYXY ground truth, normal boxes and ignore regions.
        gt_ignore (array (G,) of bool): True for ignore regions (``iscrowd=1``). Default: none.
        iou_thresh (float): IoU threshold for normal boxes and IoA threshold for ignore regions.

    Returns:
        labels (int array (D,)), in the input order: 1 true positive, 0 false positive,
            -1 ignored (on an ignore region).
        gt_matched (bool array (G,)): which ground truths were matched (always False for ignore
            regions).
    """
    dt_boxes = np.asarray(dt_boxes, dtype=np.float64).reshape(-1, 4)
    dt_scores = np.asarray(dt_scores, dtype=np.float64).reshape(-1)
    gt_boxes = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    if gt_ignore is None:
        gt_ignore = np.zeros(len(gt_boxes), dtype=bool)
    gt_ignore = np.asarray(gt_ignore, dtype=bool).reshape(-1)
    assert len(dt_boxes) == len(dt_scores) and len(gt_boxes) == len(gt_ignore)

    labels = np.zeros(len(dt_boxes), dtype=np.int64)
    gt_matched = np.zeros(len(gt_boxes), dtype=bool)
    if len(dt_boxes) == 0:
        return labels, gt_matched

    normal_idx = np.nonzero(~gt_ignore)[0]
    ignore_idx = np.nonzero(gt_ignore)[0]

    # Detections on an ignore region are ignored unless they match a normal gt below.
    if len(ignore_idx):
        inter = _pairwise_intersection(dt_boxes, gt_boxes[ignore_idx])
        ioa = _safe_div(inter, _area(dt_boxes)[:, None])
        labels[(ioa >= iou_thresh).any(axis=1)] = -1

    if len(normal_idx):
        normal = gt_boxes[normal_idx]
        inter = _pairwise_intersection(dt_boxes, normal)
        union = _area(dt_boxes)[:, None] + _area(normal)[None, :] - inter
        iou = _safe_div(inter, union)
        taken = np.zeros(len(normal_idx), dtype=bool)
        order = np.argsort(-dt_scores, kind="stable")
        # Only detections with some IoU >= thresh can become TPs; the greedy loop skips the rest.
        for d in order[(iou[order] >= iou_thresh).any(axis=1)]:
            row = np.where(taken, -1.0, iou[d])
            g = int(row.argmax())
            if row[g] >= iou_thresh:
                labels[d] = 1
                taken[g] = True
        gt_matched[normal_idx] = taken
    return labels, gt_matched


def _sorted_labels(scores, labels):
    """Drop ignored detections and sort the rest by descending score; returns tp/fp cumsums."""
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels).reshape(-1)
    keep = labels >= 0
    order = np.argsort(-scores[keep], kind="stable")
    is_tp = labels[keep][order] == 1
    return np.cumsum(is_tp), np.cumsum(~is_tp)


def average_precision(scores, labels, num_gt):
    """
    AP with all-point interpolation (PASCAL VOC 2010+), as a fraction in [0, 1].

    Args:
        scores, labels: all detections of the dataset with their labels from
            :func:`match_detections` (ignored ones, label -1, are dropped).
        num_gt (int): number of normal ground truths.

    Returns:
        float: AP; NaN when ``num_gt == 0``; 0.0 when there is no (non-ignored) detection.
    """
    if num_gt <= 0:
        return float("nan")
    tp, fp = _sorted_labels(scores, labels)
    if len(tp) == 0:
        return 0.0
    recall = tp / num_gt
    precision = tp / (tp + fp)
    # Monotone envelope: the best precision at this recall or any higher one.
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    recall_steps = np.diff(np.concatenate([[0.0], recall]))
    return float(np.sum(recall_steps * envelope))


def log_average_miss_rate(scores, labels, num_gt, num_images, ref_fppi=MR_REF_FPPI):
    """
    Log-average miss rate (Caltech / CrowdHuman mMR), as a fraction in [0, 1]; lower is better.

    Args:
        scores, labels: as in :func:`average_precision`.
        num_gt (int): number of normal ground truths.
        num_images (int): number of evaluated images (the FPPI denominator), with or without gt.
        ref_fppi (array): reference FPPIs (default: 9 log-spaced points over [1e-2, 1]).

    Returns:
        float: the geometric mean of the miss rates (clamped to >= 1e-10) at the reference
        FPPIs; NaN when ``num_gt == 0``; 1.0 when there is no detection; 1e-10 when every
        ground truth is found before the first false positive.
    """
    if num_gt <= 0:
        return float("nan")
    if num_images <= 0:
        raise ValueError("log_average_miss_rate needs num_images > 0")
    tp, fp = _sorted_labels(scores, labels)
    # Operating points, starting from "no detection kept" (FPPI 0, miss rate 1).
    fppi = np.concatenate([[0.0], fp / num_images])
    miss_rate = np.concatenate([[1.0], 1.0 - tp / num_gt])
    # FPPI is non-decreasing, so the last point with fppi <= ref has the largest such FPPI and
    # the lowest miss rate there. The relative tolerance keeps e.g. fp / num_images == 0.1
    # from missing the reference 10**-1 by a rounding error.
    idx = np.searchsorted(fppi, np.asarray(ref_fppi) * (1 + 1e-9), side="right") - 1
    mr = np.maximum(miss_rate[idx], MR_MIN)
    return float(np.exp(np.mean(np.log(mr))))


def crowd_metrics(per_image, iou_thresh=0.5):
    """
    AP@iou, mMR and recall (fractions) over a list of images.

    Args:
        per_image (iterable): one ``(dt_boxes, dt_scores, gt_boxes, gt_ignore)`` tuple per
            evaluated image (images without gt and/or detections included: they count in FPPI).

    Returns:
        dict: {"AP50", "mMR", "recall"} as fractions (NaN when there is no normal gt).
    """
    all_scores, all_labels = [], []
    num_gt = num_images = num_matched = 0
    for dt_boxes, dt_scores, gt_boxes, gt_ignore in per_image:
        labels, matched = match_detections(dt_boxes, dt_scores, gt_boxes, gt_ignore, iou_thresh)
        all_scores.append(np.asarray(dt_scores, dtype=np.float64).reshape(-1))
        all_labels.append(labels)
        num_gt += len(matched) if gt_ignore is None else int((~np.asarray(gt_ignore, bool)).sum())
        num_matched += int(matched.sum())
        num_images += 1
    scores = np.concatenate(all_scores) if all_scores else np.zeros(0)
    labels = np.concatenate(all_labels) if all_labels else np.zeros(0, dtype=np.int64)
    return {
        "AP50": average_precision(scores, labels, num_gt),
        "mMR": log_average_miss_rate(scores, labels, num_gt, max(num_images, 1)),
        "recall": num_matched / num_gt if num_gt > 0 else float("nan"),
    }


class CrowdEvaluator(DatasetEvaluator):
    """
    Crowd evaluation (AP@0.5, mMR, recall; see the module docstring) of a detector's raw outputs
    and of the same outputs after class-aware NMS, in one pass.

    Per image, like :class:`NMSAwareCOCOEvaluator`, the raw candidates give two columns: the top
    ``max_dets_per_image`` by score, and class-aware NMS at ``nms_thresh`` over all candidates
    then the top ``max_dets_per_image`` (500 by default: CrowdHuman images hold up to a few
    hundred people, so COCO's 100 would cap recall).

    Ground truth comes from ``DatasetCatalog.get(dataset_name)`` (``annotations`` with ``bbox``,
    ``bbox_mode``, ``category_id`` contiguous, ``iscrowd``); every image of the dataset is
    evaluated, so images the model was not run on count as misses.

    Results (percent; mMR is lower-is-better)::

        {"crowd": {"AP50", "mMR", "recall"}, "crowd_nms": {...}, "crowd_nms_delta": {...}}
    """

    def __init__(
        self,
        dataset_name,
        nms_thresh=0.6,
        max_dets_per_image=500,
        iou_thresh=0.5,
        class_id=None,
        output_dir=None,
        distributed=True,
    ):
        """
        Args:
            dataset_name (str): a dataset registered in DatasetCatalog.
            nms_thresh (float): IoU threshold of the class-aware NMS of the "w/ NMS" column.
            max_dets_per_image (int): detections kept per image in each column.
            iou_thresh (float): matching IoU (and IoA for ignore regions) threshold.
            class_id (int or None): contiguous id of the person class. Ground truth and
                predictions of other classes are dropped. ``None`` is only allowed on a
                single-class dataset, where every prediction counts whatever its class.
            output_dir (str): if given, each column's detections are dumped there
                (``crowd_results_crowd.json``, ``crowd_results_crowd_nms.json``; COCO result
                format with XYWH boxes and contiguous ``category_id``).
            distributed (bool): gather predictions from all ranks and evaluate on the main one.
        """
        if not 0.0 < nms_thresh <= 1.0:
            raise ValueError(f"nms_thresh must be in (0, 1], got {nms_thresh}")
        if int(max_dets_per_image) < 1:
            raise ValueError(f"max_dets_per_image must be >= 1, got {max_dets_per_image}")
        self._dataset_name = dataset_name
        self._nms_thresh = float(nms_thresh)
        self._max_dets = int(max_dets_per_image)
        self._iou_thresh = float(iou_thresh)
        self._output_dir = output_dir
        self._distributed = distributed

        dataset_dicts = DatasetCatalog.get(dataset_name)  # also fills the metadata
        metadata = MetadataCatalog.get(dataset_name)
        classes = metadata.get("thing_classes", None)
        if classes is not None:
            num_classes = len(classes)
        else:
            num_classes = len(
                {a["category_id"] for d in dataset_dicts for a in d.get("annotations", [])}
            )
        if class_id is None and num_classes > 1:
            raise ValueError(
                f"Dataset '{dataset_name}' has {num_classes} classes; pass class_id= the "
                "contiguous id of the person class to CrowdEvaluator."
            )
        if class_id is not None and classes is not None and not 0 <= class_id < num_classes:
            raise ValueError(f"class_id={class_id} is not a class of '{dataset_name}' {classes}")
        self._class_id = class_id
        self._gt = self._load_gt(dataset_dicts)
        self.reset()

    def _load_gt(self, dataset_dicts):
        """image_id -> (XYXY boxes (G, 4), ignore flags (G,)) of the evaluated class."""
        gt = OrderedDict()
        for record in dataset_dicts:
            boxes, ignore = [], []
            for ann in record.get("annotations", []):
                if self._class_id is not None and ann.get("category_id") != self._class_id:
                    continue
                mode = BoxMode(ann.get("bbox_mode", BoxMode.XYWH_ABS))
                boxes.append(BoxMode.convert(list(map(float, ann["bbox"])), mode, BoxMode.XYXY_ABS))
                ignore.append(int(ann.get("iscrowd", 0)) == 1)
            gt[record["image_id"]] = (
                np.asarray(boxes, dtype=np.float64).reshape(-1, 4),
                np.asarray(ignore, dtype=bool),
            )
        return gt

    def reset(self):
        self._predictions = []

    def process(self, inputs, outputs):
        for input, output in zip(inputs, outputs):
            if "instances" not in output:
                continue
            instances = output["instances"]
            if self._class_id is not None:
                instances = instances[instances.pred_classes == self._class_id]
            raw, nms = split_nms_columns(instances, self._nms_thresh, self._max_dets)
            prediction = {"image_id": input["image_id"]}
            for column, inst in (("crowd", raw), ("crowd_nms", nms)):
                inst = inst.to(torch.device("cpu"))
                prediction[column] = (
                    inst.pred_boxes.tensor.numpy().astype(np.float32),
                    inst.scores.numpy().astype(np.float32),
                    inst.pred_classes.numpy().astype(np.int64),
                )
            self._predictions.append(prediction)

    def evaluate(self, img_ids=None):
        """
        Args:
            img_ids: image ids to evaluate on; default: every image of the dataset.
        """
        if self._distributed:
            comm.synchronize()
            predictions = comm.gather(self._predictions, dst=0)
            predictions = list(itertools.chain(*predictions))
            if not comm.is_main_process():
                return {}
        else:
            predictions = self._predictions

        if len(predictions) == 0:
            logger.warning("[CrowdEvaluator] Did not receive valid predictions.")
            return {}

        by_image = {p["image_id"]: p for p in predictions}
        unknown = set(by_image) - set(self._gt)
        if unknown:
            logger.warning(
                f"[CrowdEvaluator] {len(unknown)} predicted image ids are not in "
                f"'{self._dataset_name}' and are ignored, e.g. {sorted(unknown, key=str)[:5]}."
            )
        eval_ids = list(self._gt) if img_ids is None else list(img_ids)
        not_in_dataset = [i for i in eval_ids if i not in self._gt]
        if not_in_dataset:
            raise ValueError(f"img_ids not in '{self._dataset_name}': {not_in_dataset[:5]}")
        missing = [i for i in eval_ids if i not in by_image]
        if missing:
            logger.warning(
                f"[CrowdEvaluator] {len(missing)} of {len(eval_ids)} images got no prediction; "
                "their ground truth counts as missed."
            )

        empty = (np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))
        results = OrderedDict()
        for column in ("crowd", "crowd_nms"):
            per_image = []
            for image_id in eval_ids:
                boxes, scores, _ = by_image[image_id][column] if image_id in by_image else empty
                gt_boxes, gt_ignore = self._gt[image_id]
                per_image.append((boxes, scores, gt_boxes, gt_ignore))
            metrics = crowd_metrics(per_image, self._iou_thresh)
            results[column] = {k: float(metrics[k] * 100) for k in _METRICS}
            if self._output_dir:
                self._dump(column, predictions)
        results["crowd_nms_delta"] = {
            k: results["crowd_nms"][k] - results["crowd"][k] for k in _METRICS
        }
        self._log_table(results, len(eval_ids))
        return copy.deepcopy(results)

    def _dump(self, column, predictions):
        dets = []
        for p in predictions:
            boxes, scores, classes = p[column]
            xywh = BoxMode.convert(boxes.astype(np.float64), BoxMode.XYXY_ABS, BoxMode.XYWH_ABS)
            for box, score, cls in zip(xywh.tolist(), scores.tolist(), classes.tolist()):
                dets.append(
                    {"image_id": p["image_id"], "bbox": box, "score": score, "category_id": cls}
                )
        PathManager.mkdirs(self._output_dir)
        path = os.path.join(self._output_dir, f"crowd_results_{column}.json")
        logger.info(f"Saving results to {path}")
        with PathManager.open(path, "w") as f:
            json.dump(dets, f)

    def _log_table(self, results, num_images):
        rows = [
            (k, results["crowd"][k], results["crowd_nms"][k], results["crowd_nms_delta"][k])
            for k in _METRICS
        ]
        table = tabulate(
            rows,
            headers=["metric", "w/o NMS", f"w/ NMS@{self._nms_thresh:g}", "delta"],
            tablefmt="pipe",
            floatfmt=".3f",
            numalign="left",
        )
        logger.info(
            f"Crowd evaluation of '{self._dataset_name}' ({num_images} images, IoU "
            f"{self._iou_thresh:g}, max {self._max_dets} dets/image; mMR lower is better):\n"
            f"{table}"
        )
