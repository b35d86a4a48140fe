#!/usr/bin/env python
"""Where a OneNet model's one-to-one positives are, checkpoint after checkpoint, and how far they
move in between (:mod:`onenet.assignment_drift`).

    python projects/onenet_assignment_drift.py \\
        --config configs/OneNet/fcos_o2o_cls_R_50_FPN_3x.py \\
        --checkpoints out/model_0000249.pth out/model_0000499.pth out/model_final.pth \\
        --dataset pennfudan_train --output drift.json scale=cpu model.num_classes=1

Each checkpoint runs the model's training assignment (``OneNet.label_samples``) on the same
images, resized as at test time and not flipped, in the same batches of ``--batch-size``, so that
only the weights differ. Batch norm uses each batch's statistics, as in training
(``--norm-stats batch``), or the running averages (``running``). Printed (and written to
``--output``): per checkpoint, the share of positives inside their gt box, their mean probability
at the gt's class and their FPN levels; per pair of consecutive checkpoints, the share of ground
truths whose positive changed sample, moved more than one grid step, or changed level. Trailing
``key=value`` overrides apply to the config (as on train_net.py's command line).
"""

import argparse
import copy
import json
import logging
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
for path in (REPO_ROOT, HERE):
    if path not in sys.path:
        sys.path.insert(0, path)

from detectron2.config import instantiate  # noqa: E402
from detectron2.structures import Boxes  # noqa: E402
from detectron2.utils.events import EventStorage  # noqa: E402

import matchcost  # noqa: E402
from onenet import OneNet  # noqa: E402
from onenet.assignment_drift import (  # noqa: E402
    PositiveSamples,
    drift,
    positive_samples,
    summarise_positives,
)
from analysis_tools import add_dataset_arguments, dataset_records, load_model  # noqa: E402

logger = logging.getLogger("onenet.assignment_drift")

NORM_STATS = ("batch", "running")


def annotated_test_mapper(cfg):
    """The test mapper (test-time resize, no flip) but keeping the annotations, as the train mapper
    does (crowd regions dropped), so that the assignment sees the gt boxes in the network's input
    coordinates."""
    mapper_cfg = copy.deepcopy(cfg.dataloader.test.mapper)
    mapper_cfg.is_train = True
    return instantiate(mapper_cfg)


def mapped_inputs(cfg, records):
    mapper = annotated_test_mapper(cfg)
    inputs = []
    for record in records:
        x = mapper(copy.deepcopy(record))
        if x is None:  # SafeDatasetMapper skips (and logs) an image it cannot read
            raise ValueError(f"{record.get('file_name')}: cannot be read; drop it from the dataset")
        inputs.append(x)
    return inputs


@torch.no_grad()
def record_positives(model: OneNet, inputs) -> PositiveSamples:
    """The positives of one batch. Its images are padded to a common size, and with the
    predicted-box cost (no spatial prior) the padding's points are candidates too: the batches
    must be the same from one checkpoint to the next."""
    images = model.preprocess_image(inputs)
    features = model.backbone(images.tensor)
    features = [features[f] for f in model.head_in_features]
    anchors, logits, deltas = model._flat_predictions(features, model.head(features))
    num_per_level = [len(a) for a in anchors]
    anchors = Boxes.cat(anchors).tensor
    gt_instances = [x["instances"].to(model.device) for x in inputs]
    with EventStorage():
        assignments = model.label_samples(
            anchors, num_per_level, logits, deltas, images.image_sizes, gt_instances
        )
    points = matchcost.box_centers(anchors)
    return PositiveSamples.cat(
        [
            positive_samples(
                a.gt_inds,
                a.pred_inds,
                points,
                num_per_level,
                model.strides,
                inst.gt_boxes.tensor,
                logits[i].sigmoid(),
                inst.gt_classes,
            )
            for i, (a, inst) in enumerate(zip(assignments, gt_instances))
        ]
    )


def use_norm_stats(model: torch.nn.Module, norm_stats: str) -> None:
    """``batch``: batch norm layers in training mode (each batch's statistics, as the training
    assignment saw them; momentum 0 so the running averages stay as loaded); ``running``: eval
    mode throughout."""
    if norm_stats not in NORM_STATS:
        raise ValueError(f"norm_stats={norm_stats!r} is not one of {NORM_STATS}")
    model.eval()
    if norm_stats == "batch":
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.train()
                m.momentum = 0.0


def analyse(config_file, checkpoints, records, overrides, device, batch_size=4, norm_stats="batch"):
    summaries, drifts = [], []
    previous, previous_checkpoint, inputs = None, None, None
    for checkpoint in checkpoints:
        cfg, model = load_model(config_file, checkpoint, overrides, device)
        if not isinstance(model, OneNet) or model.assigner.assignment != "one_to_one":
            raise ValueError(f"{config_file}: needs a OneNet model with a one-to-one assignment")
        use_norm_stats(model, norm_stats)
        if inputs is None:  # the images do not depend on the weights: read and resize them once
            inputs = mapped_inputs(cfg, records)
        current = PositiveSamples.cat(
            [
                record_positives(model, inputs[i : i + batch_size])
                for i in range(0, len(inputs), batch_size)
            ]
        )
        summaries.append(
            {"checkpoint": checkpoint, **summarise_positives(current, len(model.strides))}
        )
        if previous is not None:
            drifts.append(
                {"from": previous_checkpoint, "to": checkpoint, **drift(previous, current)}
            )
        previous, previous_checkpoint = current, checkpoint
        logger.info("%s: %s", checkpoint, summaries[-1])
    return {
        "config": config_file,
        "norm_stats": norm_stats,
        "batch_size": batch_size,
        "checkpoints": summaries,
        "drift": drifts,
    }


def json_safe(value):
    """NaN (a gt set without positives) as null, so that the output is strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", required=True)
    parser.add_argument(
        "--checkpoints", nargs="+", required=True, help="in training order (two or more)"
    )
    add_dataset_arguments(parser)
    parser.add_argument("--output", help="JSON path for the result")
    parser.add_argument("--batch-size", type=int, default=4, help="images per forward pass")
    parser.add_argument("--norm-stats", choices=NORM_STATS, default="batch")
    parser.add_argument("opts", nargs="*", help="key=value config overrides")
    args = parser.parse_args(argv)
    if len(args.checkpoints) < 2:
        parser.error("--checkpoints needs two or more checkpoints to compare")
    return args


def main(argv=None):
    args = parse_args(argv)
    records = dataset_records(args)
    result = analyse(
        args.config,
        args.checkpoints,
        records,
        args.opts,
        args.device,
        batch_size=args.batch_size,
        norm_stats=args.norm_stats,
    )
    result["dataset"] = args.dataset
    text = json.dumps(json_safe(result), indent=2, allow_nan=False)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    print(text)
    return result


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    main()
