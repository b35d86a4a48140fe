#!/usr/bin/env python
"""Where a OneNet model's one-to-one positives are, checkpoint after checkpoint, and how far they
move in between (:mod:`onenet.assignment_drift`).

    python projects/onenet_assignment_drift.py \\
        --config configs/OneNet/fcos_o2o_cls_R_50_FPN_3x.py \\
        --checkpoints out/model_0000249.pth out/model_0000499.pth out/model_final.pth \\
        --dataset pennfudan_train --output drift.json scale=cpu model.num_classes=1

Each checkpoint runs the model's own training assignment (``OneNet.label_samples``) on the same
images, resized as at test time and not flipped, so that only the weights differ. Printed (and
written to ``--output``): per checkpoint, the share of positives inside their gt box, their mean
probability at the gt's class and their FPN levels; per pair of consecutive checkpoints, the share
of ground truths whose positive changed sample, moved by more than a stride, or changed level.
Trailing ``key=value`` overrides apply to the config (as on train_net.py's command line).
"""

import argparse
import copy
import json
import logging
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

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
from onenet_score_gap import add_dataset_arguments, dataset_records, load_model  # noqa: E402

logger = logging.getLogger("onenet.assignment_drift")


def annotated_test_mapper(cfg):
    """The test mapper (test-time resize, no flip) but keeping the annotations, so that the
    assignment sees the gt boxes in the network's input coordinates."""
    mapper_cfg = copy.deepcopy(cfg.dataloader.test.mapper)
    mapper_cfg.is_train = True
    return instantiate(mapper_cfg)


@torch.no_grad()
def record_positives(model: OneNet, inputs) -> PositiveSamples:
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


def analyse(config_file, checkpoints, records, overrides, device, batch_size=4):
    summaries, drifts, previous = [], [], None
    for checkpoint in checkpoints:
        cfg, model = load_model(config_file, checkpoint, overrides, device)
        if not isinstance(model, OneNet) or model.assigner.assignment != "one_to_one":
            raise ValueError(f"{config_file}: needs a OneNet model with a one-to-one assignment")
        mapper = annotated_test_mapper(cfg)
        inputs = [mapper(copy.deepcopy(r)) for r in records]
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
                {"from": checkpoints[len(drifts)], "to": checkpoint, **drift(previous, current)}
            )
        previous = current
        logger.info("%s: %s", checkpoint, summaries[-1])
    return {"config": config_file, "checkpoints": summaries, "drift": drifts}


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
    parser.add_argument("opts", nargs="*", help="key=value config overrides")
    args = parser.parse_args(argv)
    if len(args.checkpoints) < 2:
        parser.error("--checkpoints needs two or more checkpoints to compare")
    return args


def main(argv=None):
    args = parse_args(argv)
    records = dataset_records(args)
    result = analyse(args.config, args.checkpoints, records, args.opts, args.device)
    result["dataset"] = args.dataset
    text = json.dumps(result, indent=2)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    print(text)
    return result


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    main()
