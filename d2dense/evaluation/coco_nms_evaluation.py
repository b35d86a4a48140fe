"""COCO evaluation of a detector's raw outputs and of the same outputs after NMS, in one pass."""

import contextlib
import copy
import io
import itertools
import json
import logging
import os
import tempfile
from collections import OrderedDict

import numpy as np
import torch
from pycocotools.coco import COCO
from tabulate import tabulate

import detectron2.utils.comm as comm
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.datasets.coco import convert_to_coco_json
from detectron2.evaluation import DatasetEvaluator
from detectron2.evaluation.coco_evaluation import COCOevalMaxDets, instances_to_coco_json
from detectron2.utils.file_io import PathManager

from .columns import split_nms_columns

__all__ = ["NMSAwareCOCOEvaluator", "ensure_dataset_id_map"]

logger = logging.getLogger(__name__)

# COCOeval.stats indices of the metrics we report (see pycocotools' summarize()).
_AP_METRICS = (("AP", 0), ("AP50", 1), ("AP75", 2), ("APs", 3), ("APm", 4), ("APl", 5))
_AR_STAT_INDEX = 8  # AR at maxDets[2], i.e. at max_dets_per_image


def ensure_dataset_id_map(dataset_name):
    """
    Make sure ``MetadataCatalog.get(dataset_name).thing_dataset_id_to_contiguous_id`` is set
    when the dataset defines one.

    ``register_coco_instances`` only fills this map when the dataset is first loaded. An
    evaluator that reads the metadata before anybody called ``DatasetCatalog.get`` then
    writes contiguous ids into the results, and on datasets with non-contiguous ids (COCO's
    1..90, or {1, 3}) every detection gets the wrong category: AP is silently 0.
    """
    metadata = MetadataCatalog.get(dataset_name)
    if "thing_dataset_id_to_contiguous_id" not in metadata.as_dict():
        if dataset_name in DatasetCatalog.list():
            DatasetCatalog.get(dataset_name)
    return metadata


class NMSAwareCOCOEvaluator(DatasetEvaluator):
    """
    COCO box AP of the raw outputs ("w/o NMS") and of the same outputs after class-aware NMS
    ("w/ NMS"), from a single inference pass.

    The model's ``outputs[i]["instances"]`` are taken to be its candidates *without* NMS (see
    :mod:`d2dense.evaluation.columns`). Per image the evaluator keeps

    * ``bbox``: the top ``max_dets_per_image`` candidates by score;
    * ``bbox_nms``: class-aware NMS at ``nms_thresh`` over all candidates, then the top
      ``max_dets_per_image``.

    Each column is scored by the official pycocotools ``COCOeval`` (through detectron2's
    ``COCOevalMaxDets`` so ``max_dets_per_image`` other than 100 is honoured, as CrowdHuman's
    500 needs). Crowd (``iscrowd=1``) annotations are handled by COCOeval as in COCO.

    Results (percent, like detectron2)::

        {"bbox":      {"AP", "AP50", "AP75", "APs", "APm", "APl", "AR@<max_dets>", "AP-<class>"...},
         "bbox_nms":  {same keys},
         "nms_delta": {"AP", ..., "AR@<max_dets>"}}   # bbox_nms - bbox

    ``AR@<max_dets>`` is COCOeval's ``stats[8]`` (AR@100 by default). Per-class AP is only given
    when the dataset has more than one class.

    NaN vs 0:

    * A metric is NaN only when it is undefined because there is no ground truth for it (e.g.
      APs on a dataset without small objects, or per-class AP of a class absent from the set).
    * A detector that outputs nothing scores 0.0 on every metric that has ground truth: unlike
      detectron2's ``COCOEvaluator`` (which returns NaN for everything in that case) an empty
      result set is still run through COCOeval, so "no detections" and "bad detections" are
      scored the same way.
    """

    def __init__(
        self,
        dataset_name,
        nms_thresh=0.6,
        max_dets_per_image=100,
        output_dir=None,
        distributed=True,
    ):
        """
        Args:
            dataset_name (str): a dataset registered in DatasetCatalog; either with a
                ``json_file`` in its metadata (e.g. ``register_coco_instances``) or in
                detectron2's standard format (converted to COCO json on the fly).
            nms_thresh (float): IoU threshold of the class-aware NMS of the "w/ NMS" column.
            max_dets_per_image (int): detections kept per image in each column; also COCOeval's
                maxDets, so AR is reported as ``AR@<max_dets_per_image>``.
            output_dir (str): if given, the results of each column are dumped there in COCO
                result format (``coco_instances_results_bbox.json``,
                ``coco_instances_results_bbox_nms.json``).
            distributed (bool): gather predictions from all ranks and evaluate on the main one.
        """
        if not 0.0 < nms_thresh <= 1.0:
            raise ValueError(f"nms_thresh must be in (0, 1], got {nms_thresh}")
        if int(max_dets_per_image) < 1:
            raise ValueError(f"max_dets_per_image must be >= 1, got {max_dets_per_image}")
        self._dataset_name = dataset_name
        self._nms_thresh = float(nms_thresh)
        self._max_dets = int(max_dets_per_image)
        self._output_dir = output_dir
        self._distributed = distributed
        self._cpu_device = torch.device("cpu")

        self._metadata = ensure_dataset_id_map(dataset_name)
        self._coco_api = self._load_coco_gt()
        self._json_image_ids = set(self._coco_api.getImgIds())
        self._image_ids = self._loaded_image_ids()
        self.reset()

    def _loaded_image_ids(self):
        """The json's images that the dataset loader returns. An image the loader drops (a
        missing file, say) is never shown to the model: scoring it would count its objects as
        misses in this evaluator but not in the crowd evaluator, which scores the loaded images."""
        json_ids = self._json_image_ids
        loaded = {d["image_id"] for d in DatasetCatalog.get(self._dataset_name)}
        dropped = json_ids - loaded
        if dropped and self._metadata.get("subset_of", None) is not None:
            logger.info(
                f"[NMSAwareCOCOEvaluator] '{self._dataset_name}' is a subset of "
                f"'{self._metadata.subset_of}': evaluating on its {len(json_ids & loaded)} images."
            )
        elif dropped:
            logger.warning(
                f"[NMSAwareCOCOEvaluator] {len(dropped)} of the {len(json_ids)} images of "
                f"'{self._dataset_name}' were dropped by its loader (e.g. image id "
                f"{min(dropped)}); evaluating on the {len(json_ids & loaded)} loaded images."
            )
        return sorted(json_ids & loaded)

    def _load_coco_gt(self):
        json_file = self._metadata.get("json_file", None)
        if json_file is not None:
            with contextlib.redirect_stdout(io.StringIO()):
                coco_api = COCO(PathManager.get_local_path(json_file))
        elif self._output_dir:
            # Same route as detectron2's COCOEvaluator (cache in output_dir and remember it in
            # the metadata), without reusing a possibly stale cache.
            json_file = os.path.join(self._output_dir, f"{self._dataset_name}_coco_format.json")
            convert_to_coco_json(self._dataset_name, json_file, allow_cached=False)
            self._metadata.json_file = json_file
            with contextlib.redirect_stdout(io.StringIO()):
                coco_api = COCO(json_file)
        else:
            # detectron2 requires output_dir here; a throw-away file is enough.
            with tempfile.TemporaryDirectory(prefix="d2dense_eval_") as tmp:
                json_file = os.path.join(tmp, "coco_format.json")
                convert_to_coco_json(self._dataset_name, json_file, allow_cached=False)
                with contextlib.redirect_stdout(io.StringIO()):
                    coco_api = COCO(json_file)
        if "annotations" not in coco_api.dataset:
            raise ValueError(
                f"'{json_file}' of dataset '{self._dataset_name}' has no annotations; "
                "NMSAwareCOCOEvaluator needs ground truth."
            )
        return coco_api

    @property
    def _ar_key(self):
        return f"AR@{self._max_dets}"

    def reset(self):
        self._predictions = []

    def process(self, inputs, outputs):
        for input, output in zip(inputs, outputs):
            if "instances" not in output:
                continue
            raw, nms = split_nms_columns(output["instances"], self._nms_thresh, self._max_dets)
            image_id = input["image_id"]
            self._predictions.append(
                {
                    "image_id": image_id,
                    "bbox": instances_to_coco_json(raw.to(self._cpu_device), image_id),
                    "bbox_nms": instances_to_coco_json(nms.to(self._cpu_device), image_id),
                }
            )

    def evaluate(self, img_ids=None):
        """
        Args:
            img_ids: image ids to evaluate on; default: every image the dataset loader returns
                (a loaded image without predictions counts its objects as misses, as in
                detectron2's COCOEvaluator; images the loader dropped are left out, with a
                warning at construction).
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
            logger.warning("[NMSAwareCOCOEvaluator] Did not receive valid predictions.")
            return {}

        known = self._json_image_ids
        unknown = {p["image_id"] for p in predictions} - known
        if unknown:
            logger.warning(
                f"[NMSAwareCOCOEvaluator] skipping the predictions of {len(unknown)} image ids "
                f"that '{self._dataset_name}' does not have (e.g. {sorted(unknown)[:3]})."
            )
            predictions = [p for p in predictions if p["image_id"] in known]
        if img_ids is None:
            img_ids = self._image_ids

        results = OrderedDict()
        for column in ("bbox", "bbox_nms"):
            coco_results = list(itertools.chain(*[p[column] for p in predictions]))
            self._unmap_category_ids(coco_results)
            if self._output_dir:
                PathManager.mkdirs(self._output_dir)
                path = os.path.join(self._output_dir, f"coco_instances_results_{column}.json")
                logger.info(f"Saving results to {path}")
                with PathManager.open(path, "w") as f:
                    json.dump(coco_results, f)
            results[column] = self._eval_column(coco_results, column, img_ids)

        results["nms_delta"] = {
            k: results["bbox_nms"][k] - results["bbox"][k]
            for k in [m for m, _ in _AP_METRICS] + [self._ar_key]
        }
        self._log_table(results)
        return copy.deepcopy(results)

    def _unmap_category_ids(self, coco_results):
        """Contiguous model class ids -> the dataset's (json) category ids, in place."""
        id_map = self._metadata.get("thing_dataset_id_to_contiguous_id", None)
        if id_map is None:
            return
        reverse = {v: k for k, v in id_map.items()}
        for result in coco_results:
            contiguous = result["category_id"]
            if contiguous not in reverse:
                raise ValueError(
                    f"A prediction has class {contiguous}, but dataset '{self._dataset_name}' "
                    f"has {len(reverse)} classes (valid ids: 0..{len(reverse) - 1})."
                )
            result["category_id"] = reverse[contiguous]

    def _eval_column(self, coco_results, column, img_ids):
        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):
            coco_eval = _run_coco_eval(self._coco_api, coco_results, self._max_dets, img_ids)
        logger.info(
            f"COCOeval of '{column}' ({len(coco_results)} detections):\n{stdout.getvalue()}"
        )

        res = {name: _percent(coco_eval.stats[idx]) for name, idx in _AP_METRICS}
        res[self._ar_key] = _percent(coco_eval.stats[_AR_STAT_INDEX])

        class_names = self._metadata.get("thing_classes", None)
        precisions = coco_eval.eval["precision"]  # (iou, recall, class, area, max dets)
        if class_names is not None and len(class_names) > 1:
            assert len(class_names) == precisions.shape[2], (len(class_names), precisions.shape)
            for k, name in enumerate(class_names):
                p = precisions[:, :, k, 0, -1]
                p = p[p > -1]
                res[f"AP-{name}"] = float(np.mean(p) * 100) if p.size else float("nan")
        return res

    def _log_table(self, results):
        rows = [
            (k, results["bbox"][k], results["bbox_nms"][k], results["nms_delta"][k])
            for k in results["nms_delta"]
        ]
        table = tabulate(
            rows,
            headers=["metric", "w/o NMS", f"w/ NMS@{self._nms_thresh:g}", "delta"],
            tablefmt="pipe",
            floatfmt=".3f",
            numalign="left",
        )
        logger.info(f"NMS-aware COCO evaluation of '{self._dataset_name}':\n{table}")


def _percent(stat):
    # COCOeval uses -1 for "no ground truth in this setting".
    return float(stat * 100) if stat >= 0 else float("nan")


def _load_results(coco_gt, coco_results):
    """``coco_gt.loadRes`` that also accepts an empty result list (pycocotools does not)."""
    if coco_results:
        # loadRes adds fields to the dicts; keep the caller's list untouched.
        return coco_gt.loadRes(copy.deepcopy(coco_results))
    coco_dt = COCO()
    coco_dt.dataset = {
        "images": list(coco_gt.dataset.get("images", [])),
        "categories": copy.deepcopy(coco_gt.dataset.get("categories", [])),
        "annotations": [],
    }
    coco_dt.createIndex()
    return coco_dt


def _run_coco_eval(coco_gt, coco_results, max_dets, img_ids=None):
    """
    One official COCOeval bbox pass with maxDets = [1, 10, max_dets].

    ``COCOevalMaxDets`` is detectron2's COCOeval whose summary uses maxDets[2] instead of a
    hard-coded 100; for max_dets == 100 it gives the same numbers as plain COCOeval.
    """
    coco_eval = COCOevalMaxDets(coco_gt, _load_results(coco_gt, coco_results), "bbox")
    coco_eval.params.maxDets = [1, 10, max_dets]
    if img_ids is not None:
        coco_eval.params.imgIds = list(img_ids)
    coco_eval.evaluate()
    coco_eval.accumulate()
    coco_eval.summarize()
    return coco_eval
