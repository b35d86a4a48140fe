"""Loading COCO-format detection jsons with validation.

detectron2's ``load_coco_json`` trusts its input: an unknown ``category_id`` raises deep inside,
and degenerate or out-of-image boxes reach the model (where they become NaN losses or
"Input boxes to Box2BoxTransform are not valid"). Here every problem is either repaired with a
logged count (boxes clipped to the image) or the offending record is dropped with a logged count
that names the first few image / annotation ids, so a bad file never crashes training.
"""

import json
import logging
import os
from collections import Counter
from typing import Dict, List, Optional

from detectron2.data import MetadataCatalog
from detectron2.structures import BoxMode

logger = logging.getLogger(__name__)

__all__ = ["load_coco_detection_json", "sanitize_annotations", "DataReport"]


class DataReport:
    """Counts of what was repaired or dropped while loading, with a few example ids per reason."""

    def __init__(self, source: str):
        self.source = source
        self.counts: Counter = Counter()
        self.examples: Dict[str, List[str]] = {}

    def add(self, reason: str, example: str) -> None:
        self.counts[reason] += 1
        self.examples.setdefault(reason, [])
        if len(self.examples[reason]) < 3:
            self.examples[reason].append(example)

    def log(self) -> None:
        for reason, n in sorted(self.counts.items()):
            logger.warning(
                "%s: %d x %s (e.g. %s)", self.source, n, reason, ", ".join(self.examples[reason])
            )


def sanitize_annotations(
    annos: List[dict], width: int, height: int, report: DataReport, where: str
) -> List[dict]:
    """Clip XYWH/XYXY boxes to the image and drop the ones that are non-finite or empty after it.

    ``annos`` are detectron2 annotation dicts (``bbox`` + ``bbox_mode``); returns the kept ones with
    ``bbox`` converted to XYXY_ABS. Ignore regions (``iscrowd=1``) are clipped the same way.
    """
    kept = []
    for k, obj in enumerate(annos):
        box = obj["bbox"]
        tag = f"{where} annotation {obj.get('id', k)}"
        if len(box) != 4 or not all(isinstance(v, (int, float)) for v in box):
            report.add("malformed bbox dropped", tag)
            continue
        x0, y0, x1, y1 = BoxMode.convert(list(map(float, box)), obj["bbox_mode"], BoxMode.XYXY_ABS)
        if not all(abs(v) < float("inf") for v in (x0, y0, x1, y1)):
            report.add("non-finite bbox dropped", tag)
            continue
        if x1 < x0 or y1 < y0:
            report.add("inverted bbox dropped", tag)
            continue
        cx0, cy0 = min(max(x0, 0.0), width), min(max(y0, 0.0), height)
        cx1, cy1 = min(max(x1, 0.0), width), min(max(y1, 0.0), height)
        if cx1 - cx0 < 1.0 or cy1 - cy0 < 1.0:
            # < 1 px after clipping: nothing a detector can learn and a divide-by-zero risk.
            report.add("degenerate or outside-image bbox dropped", tag)
            continue
        if (cx0, cy0, cx1, cy1) != (x0, y0, x1, y1):
            report.add("bbox clipped to image", tag)
        obj = dict(obj, bbox=[cx0, cy0, cx1, cy1], bbox_mode=BoxMode.XYXY_ABS)
        kept.append(obj)
    return kept


def load_coco_detection_json(
    json_file: str,
    image_root: str,
    dataset_name: Optional[str] = None,
    check_files: bool = True,
) -> List[dict]:
    """Load a COCO instances json as detectron2 dataset dicts (boxes only), validating it.

    Category ids are mapped to contiguous ids in sorted order (detectron2's convention) and the
    map is stored in ``MetadataCatalog.get(dataset_name)`` together with ``thing_classes``.
    Dropped: annotations without an image id or with a category id absent from ``categories``,
    malformed / degenerate / inverted / outside-image boxes; images without id, file name, width
    or height, and images whose file is missing. Clipped: boxes partly outside.
    """
    with open(json_file) as f:
        data = json.load(f)
    for key in ("images", "annotations", "categories"):
        if key not in data:
            raise ValueError(f"{json_file}: not a COCO instances json (no '{key}' field)")
    cats = sorted(data["categories"], key=lambda c: c["id"])
    id_map = {c["id"]: i for i, c in enumerate(cats)}
    if dataset_name is not None:
        meta = MetadataCatalog.get(dataset_name)
        meta.set(
            thing_classes=[c["name"] for c in cats],
            thing_dataset_id_to_contiguous_id=id_map,
            json_file=json_file,
            image_root=image_root,
            evaluator_type="coco",
        )
    report = DataReport(json_file)
    annos_per_image: Dict[int, List[dict]] = {}
    for ann in data["annotations"]:
        if "image_id" not in ann:
            report.add("annotation without image_id dropped", f"annotation {ann.get('id')}")
            continue
        if ann.get("category_id") not in id_map:
            report.add("annotation with unknown category_id dropped", f"annotation {ann.get('id')}")
            continue
        annos_per_image.setdefault(ann["image_id"], []).append(ann)

    images = []
    for img in data["images"]:
        missing = [k for k in ("id", "file_name", "width", "height") if k not in img]
        if missing:
            report.add(
                f"image without {'/'.join(missing)} dropped",
                f"image {img.get('id', img.get('file_name', '?'))}",
            )
            continue
        images.append(img)
    dicts = []
    for img in sorted(images, key=lambda im: im["id"]):
        file_name = os.path.join(image_root, img["file_name"])
        if check_files and not os.path.isfile(file_name):
            report.add("image with missing file dropped", file_name)
            continue
        annos = [
            {
                "id": a.get("id"),
                "bbox": a.get("bbox", []),
                "bbox_mode": BoxMode.XYWH_ABS,
                "category_id": id_map[a["category_id"]],
                "iscrowd": int(a.get("iscrowd", 0)),
            }
            for a in annos_per_image.get(img["id"], [])
        ]
        where = f"{json_file} image {img['id']} ({img['file_name']})"
        annos = sanitize_annotations(annos, img["width"], img["height"], report, where)
        dicts.append(
            {
                "file_name": file_name,
                "image_id": img["id"],
                "height": img["height"],
                "width": img["width"],
                "annotations": annos,
            }
        )
    report.log()
    logger.info(
        "Loaded %d images with %d boxes from %s",
        len(dicts),
        sum(len(d["annotations"]) for d in dicts),
        json_file,
    )
    return dicts
