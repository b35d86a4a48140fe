"""CrowdHuman (https://www.crowdhuman.org) in its official layout::

    $DETECTRON2_DATASETS/crowdhuman/
        annotation_train.odgt  annotation_val.odgt
        Images/<ID>.jpg

Each ``.odgt`` line is a json record ``{"ID", "gtboxes": [{"tag", "fbox", "vbox", "hbox", "extra"}]}``.
We use the full-body box ``fbox`` (x, y, w, h), as DeFCN, PSS and OneNet do. Boxes tagged ``mask``
(crowds, reflections) or with ``extra.ignore == 1`` become ignore regions (``iscrowd=1``): they are
never positives in training and detections on them are never false positives in evaluation.
Image sizes are not in the odgt; they are read from the JPEG header once and cached next to the
annotation file (``<odgt>.sizes.json``) because decoding 15k images at start-up would be slow.
"""

import json
import logging
import os
from typing import List

from PIL import Image

from detectron2.data import MetadataCatalog
from detectron2.structures import BoxMode

from .coco_format import DataReport, sanitize_annotations

logger = logging.getLogger(__name__)

__all__ = ["load_crowdhuman_odgt"]


def _image_sizes(odgt_file: str, image_root: str, ids: List[str]) -> dict:
    cache = odgt_file + ".sizes.json"
    sizes = {}
    if os.path.isfile(cache):
        with open(cache) as f:
            sizes = json.load(f)
    missing = [i for i in ids if i not in sizes]
    for image_id in missing:
        path = os.path.join(image_root, image_id + ".jpg")
        if not os.path.isfile(path):
            continue
        try:
            with Image.open(path) as im:
                sizes[image_id] = list(im.size)  # (width, height)
        except OSError as e:
            logger.warning("CrowdHuman: cannot read %s (%s); image dropped", path, e)
    if missing:
        try:
            with open(cache, "w") as f:
                json.dump(sizes, f)
        except OSError:  # read-only dataset folder: fine, just slower next time
            pass
    return sizes


def load_crowdhuman_odgt(odgt_file: str, image_root: str, dataset_name: str = None) -> List[dict]:
    """Return detectron2 dataset dicts for one CrowdHuman split (one class: person, id 0)."""
    records = []
    with open(odgt_file) as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError(f"{odgt_file}:{lineno}: not a json line ({e})") from e
    sizes = _image_sizes(odgt_file, image_root, [r["ID"] for r in records])
    report = DataReport(odgt_file)
    dicts = []
    for image_index, rec in enumerate(records):
        image_id = rec["ID"]
        if image_id not in sizes:
            report.add("image with missing or unreadable file dropped", image_id)
            continue
        width, height = sizes[image_id]
        annos = []
        for k, box in enumerate(rec.get("gtboxes", [])):
            if "fbox" not in box:
                report.add("gtbox without fbox dropped", f"{image_id} box {k}")
                continue
            ignore = box.get("tag") == "mask" or int(box.get("extra", {}).get("ignore", 0)) == 1
            annos.append(
                {
                    "id": k,
                    "bbox": box["fbox"],
                    "bbox_mode": BoxMode.XYWH_ABS,
                    "category_id": 0,
                    "iscrowd": int(ignore),
                }
            )
        # Full-body boxes of occluded people routinely extend past the image border: clip them.
        annos = sanitize_annotations(annos, width, height, report, f"{odgt_file} {image_id}")
        dicts.append(
            {
                "file_name": os.path.join(image_root, image_id + ".jpg"),
                "image_id": image_index,
                "height": height,
                "width": width,
                "annotations": annos,
            }
        )
    report.log()
    if dataset_name is not None:
        MetadataCatalog.get(dataset_name).set(
            thing_classes=["person"], evaluator_type="crowd", image_root=image_root
        )
    return dicts
