#!/usr/bin/env python
"""Positive anchors per ground-truth size under Uniform vs Max-IoU matching (YOLOF Fig. 6).

    python projects/yolof_positive_balance.py --dataset coco_sample_person
    python projects/yolof_positive_balance.py --dataset coco_mini_val --methods uniform max_iou atss

No model and no training: every image is resized as at training time (short side 800, max 1333 by
default), YOLOF's C5 anchors (5 per location, 32..512, stride 32, offset 0) are laid on its grid and
the gts are matched by the same :class:`yolof.YOLOFAssigner` the model uses, with the predicted boxes
taken equal to the anchors (zero deltas, i.e. the matching at initialisation). A gt's positives are
the anchors finally labelled with it (unique anchors, after the ignore rules). Gts are bucketed by
COCO's area ranges on the original image (small < 32^2 <= medium < 96^2 <= large).
"""

import argparse
import math
import os
import sys
from collections import OrderedDict

import torch

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

from detectron2.data import DatasetCatalog  # noqa: E402
from detectron2.modeling.anchor_generator import DefaultAnchorGenerator  # noqa: E402
from detectron2.structures import BoxMode  # noqa: E402

import d2dense.data  # noqa: E402,F401  (registers the datasets)
from yolof import YOLOFAssigner  # noqa: E402

__all__ = ["count_positives", "format_table", "SIZE_BUCKETS"]

SIZE_BUCKETS = OrderedDict(
    small=(0.0, 32.0**2), medium=(32.0**2, 96.0**2), large=(96.0**2, math.inf)
)
STRIDE = 32


def _resized_scale(height: int, width: int, short_side: int, max_size: int) -> float:
    """Scale of detectron2's ``ResizeShortestEdge(short_side, max_size)``."""
    scale = short_side / min(height, width)
    if max(height, width) * scale > max_size:
        scale = max_size / max(height, width)
    return scale


def count_positives(
    dataset_dicts, methods=("uniform", "max_iou"), short_side=800, max_size=1333, topk=4
):
    """``{method: {bucket: {"num_gt", "num_pos", "num_gt_without_pos"}}}`` over ``dataset_dicts``
    (detectron2 dataset dicts; crowd boxes are skipped)."""
    anchor_generator = DefaultAnchorGenerator(
        sizes=[[32, 64, 128, 256, 512]], aspect_ratios=[1.0], strides=[STRIDE], offset=0.0
    )
    assigners = {m: YOLOFAssigner(method=m, topk=topk) for m in methods}
    stats = {
        m: {b: dict(num_gt=0, num_pos=0, num_gt_without_pos=0) for b in SIZE_BUCKETS}
        for m in methods
    }
    for d in dataset_dicts:
        anns = [a for a in d.get("annotations", []) if not a.get("iscrowd", 0)]
        if not anns:
            continue
        boxes = torch.tensor(
            [BoxMode.convert(a["bbox"], a["bbox_mode"], BoxMode.XYXY_ABS) for a in anns],
            dtype=torch.float32,
        )
        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        scale = _resized_scale(d["height"], d["width"], short_side, max_size)
        height, width = round(d["height"] * scale), round(d["width"] * scale)
        grid = torch.zeros(1, 1, math.ceil(height / STRIDE), math.ceil(width / STRIDE))
        (anchors,) = anchor_generator([grid])
        gt_boxes = boxes * scale
        buckets = [
            next(b for b, (lo, hi) in SIZE_BUCKETS.items() if lo <= a < hi) for a in areas.tolist()
        ]
        for method, assigner in assigners.items():
            labels = assigner(
                pred_boxes=anchors.tensor, anchors=anchors.tensor, gt_boxes=gt_boxes
            ).labels
            pos_per_gt = torch.bincount(labels[labels >= 0], minlength=len(anns)).tolist()
            for bucket, num_pos in zip(buckets, pos_per_gt):
                s = stats[method][bucket]
                s["num_gt"] += 1
                s["num_pos"] += num_pos
                s["num_gt_without_pos"] += int(num_pos == 0)
    return stats


def format_table(stats) -> str:
    lines = [
        "| matching | gt size | gts | positive anchors | positives / gt | gts without positive | share of positives |",
        "|---|---|---|---|---|---|---|",
    ]
    for method, buckets in stats.items():
        total = max(sum(b["num_pos"] for b in buckets.values()), 1)
        for name, b in buckets.items():
            per_gt = b["num_pos"] / b["num_gt"] if b["num_gt"] else float("nan")
            lines.append(
                f"| {method} | {name} | {b['num_gt']} | {b['num_pos']} | {per_gt:.2f} | "
                f"{b['num_gt_without_pos']} | {100.0 * b['num_pos'] / total:.1f}% |"
            )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", default="coco_sample_person")
    parser.add_argument("--methods", nargs="+", default=["uniform", "max_iou"])
    parser.add_argument("--short-side", type=int, default=800)
    parser.add_argument("--max-size", type=int, default=1333)
    parser.add_argument("--topk", type=int, default=4, help="k of Uniform Matching")
    args = parser.parse_args()
    dicts = DatasetCatalog.get(args.dataset)
    stats = count_positives(dicts, args.methods, args.short_side, args.max_size, args.topk)
    print(
        f"{args.dataset}: {len(dicts)} images, short side {args.short_side} (max {args.max_size}), "
        f"C5 anchors 32..512 x1, predicted boxes = anchors"
    )
    print(format_table(stats))


if __name__ == "__main__":
    main()
