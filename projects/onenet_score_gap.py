#!/usr/bin/env python
"""Score-gap analysis of two trained OneNet models ("What Makes for End-to-End Object Detection?",
Sec. 3.4: Definition 3.3 and Fig. 4), e.g. location cost only vs location + classification cost,
both on the pre-defined location cost (the only difference between the two configs below).

    python projects/onenet_score_gap.py \\
        --model "loc. only" configs/OneNet/fcos_o2o_loc_R_50_FPN_3x.py out/loc/model_final.pth \\
        --model "loc. + cls." configs/OneNet/fcos_o2o_cls_predef_R_50_FPN_3x.py \\
            out/cls/model_final.pth \\
        --dataset pennfudan_val --output score_gap.png scale=cpu model.num_classes=1

Per ground truth, the samples that detect it (box IoU >= ``--iou``, scored at its class) give the
gap between the highest and the second-highest score (:mod:`onenet.score_gap`). The PNG shows,
side by side and for both models, (left) the Fig. 4 histogram: every such sample's score divided
by its object's top score, counts clipped at 10^4 as in the paper; (right) the per-ground-truth
score gaps. A JSON summary (mean / median gap, matched and missed ground truths) is written next
to it. Trailing ``key=value`` overrides apply to both configs (as on train_net.py's command line).
"""

import argparse
import copy
import json
import logging
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
for path in (REPO_ROOT, HERE):
    if path not in sys.path:
        sys.path.insert(0, path)

from detectron2.config import instantiate  # noqa: E402
from detectron2.structures import BoxMode  # noqa: E402

import d2dense.data  # noqa: E402,F401  (registers the datasets)
from onenet.score_gap import ScoreGaps, score_gaps  # noqa: E402

from analysis_tools import add_dataset_arguments, dataset_records, load_model  # noqa: E402

logger = logging.getLogger("onenet.score_gap")

COLORS = ("tab:blue", "tab:red")  # Fig. 4: blue = location cost only, red = + classification cost
MAX_COUNT = 1e4  # Fig. 4 shows "the part below number of 10^4"


def ground_truth(record):
    """xyxy boxes and contiguous classes of a dataset dict, crowd / ignore regions left out."""
    anns = [a for a in record.get("annotations", []) if not a.get("iscrowd", 0)]
    boxes = [BoxMode.convert(a["bbox"], a["bbox_mode"], BoxMode.XYXY_ABS) for a in anns]
    return (
        torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        torch.tensor([a["category_id"] for a in anns], dtype=torch.long),
    )


def analyse(cfg, model, records, iou_thresh) -> ScoreGaps:
    mapper = instantiate(cfg.dataloader.test.mapper)
    parts = []
    for record in records:
        gt_boxes, gt_classes = ground_truth(record)
        ((scores, boxes),) = model.dense_outputs([mapper(copy.deepcopy(record))])
        parts.append(score_gaps(scores.cpu(), boxes.cpu(), gt_boxes, gt_classes, iou_thresh))
    return ScoreGaps.cat(parts)


def summarise(result: ScoreGaps):
    n = len(result.gaps)
    return {
        "matched_gt": n,
        "missed_gt": result.num_missed,
        "mean_gap": float(result.gaps.mean()) if n else float("nan"),
        "median_gap": float(result.gaps.median()) if n else float("nan"),
        "mean_top_score": float(result.top_scores.mean()) if n else float("nan"),
    }


def draw(results, labels, path, title):
    fig, (ax_scores, ax_gaps) = plt.subplots(1, 2, figsize=(11, 4))
    bins = torch.linspace(0, 1, 51).tolist()
    highest_count = 1.0
    for result, label, color in zip(results, labels, COLORS):
        counts, _, _ = ax_scores.hist(
            result.normalized_scores.numpy(), bins=bins, color=color, alpha=0.5, label=label
        )
        highest_count = max(highest_count, float(counts.max()))
        ax_gaps.hist(result.gaps.numpy(), bins=bins, color=color, alpha=0.5, label=label)
    # Clip only when a bin exceeds 10^4 (COCO-size runs); a small dataset keeps a readable axis.
    ax_scores.set_ylim(0, min(MAX_COUNT, 1.05 * highest_count))
    ax_scores.set(
        xlabel="sample score / top score of its object",
        ylabel="number of samples",
        title="scores of the samples matching a ground truth",
    )
    ax_gaps.set(
        xlabel="score gap (top-1 - top-2)", ylabel="number of ground truths", title="score gap"
    )
    for ax in (ax_scores, ax_gaps):
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model",
        nargs=3,
        action="append",
        required=True,
        metavar=("LABEL", "CONFIG", "CHECKPOINT"),
        help="given twice: the two models to compare",
    )
    add_dataset_arguments(parser)
    parser.add_argument(
        "--output", required=True, help="PNG path (the JSON summary goes next to it)"
    )
    parser.add_argument(
        "--iou", type=float, default=0.5, help="IoU for a sample to match a ground truth"
    )
    parser.add_argument("opts", nargs="*", help="key=value config overrides for both models")
    args = parser.parse_args(argv)
    if len(args.model) != 2:
        parser.error(f"--model must be given exactly twice, got {len(args.model)}")
    return args


def main(argv=None):
    args = parse_args(argv)
    records = dataset_records(args)
    results, summary = [], {}
    for label, config_file, checkpoint in args.model:
        cfg, model = load_model(config_file, checkpoint, args.opts, args.device)
        result = analyse(cfg, model, records, args.iou)
        results.append(result)
        summary[label] = summarise(result)
        logger.info("%s: %s", label, summary[label])
    labels = [m[0] for m in args.model]
    draw(
        results,
        labels,
        args.output,
        f"{args.dataset}: score gap (Definition 3.3), {len(records)} images",
    )
    with open(os.path.splitext(args.output)[0] + ".json", "w") as f:
        json.dump(summary, f, indent=2)
    print(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    main()
