"""Pick the evaluators a dataset needs from its metadata."""

from typing import Optional

from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.evaluation import DatasetEvaluators

from .coco_nms_evaluation import NMSAwareCOCOEvaluator
from .crowd_evaluation import CrowdEvaluator

__all__ = ["build_evaluators"]


def build_evaluators(
    dataset_name: str,
    nms_thresh: float = 0.6,
    max_dets_per_image: Optional[int] = None,
    output_dir: Optional[str] = None,
) -> DatasetEvaluators:
    """NMS-aware COCO metrics for every dataset; crowd metrics (AP@0.5, mMR, recall) in addition
    for person datasets (metadata ``person_dataset=True`` or ``evaluator_type="crowd"``).
    ``max_dets_per_image`` defaults to 500 for ``evaluator_type="crowd"`` (CrowdHuman's protocol)
    and to 100 otherwise, person datasets such as Penn-Fudan included.
    """
    if dataset_name not in DatasetCatalog.list():
        raise KeyError(
            f"dataset {dataset_name!r} is not registered; registered d2dense sets: "
            f"{[n for n in DatasetCatalog.list() if n.startswith(('coco_mini', 'coco_sample', 'pennfudan', 'crowdhuman'))]}"
        )
    meta = MetadataCatalog.get(dataset_name)
    crowd = meta.get("evaluator_type", "coco") == "crowd" or meta.get("person_dataset", False)
    if max_dets_per_image is None:
        max_dets_per_image = 500 if meta.get("evaluator_type") == "crowd" else 100
    evaluators = [
        NMSAwareCOCOEvaluator(
            dataset_name,
            nms_thresh=nms_thresh,
            max_dets_per_image=max_dets_per_image,
            output_dir=output_dir,
        )
    ]
    if crowd:
        evaluators.append(
            CrowdEvaluator(
                dataset_name, nms_thresh=nms_thresh, max_dets_per_image=max_dets_per_image
            )
        )
    return DatasetEvaluators(evaluators)
