#!/usr/bin/env python
"""Inference cost of one or several detectors at batch 1, measured in the same run.

    python tools/benchmark.py --config-file configs/Baselines/fcos_R_50_FPN_3x.py \\
        --config-file configs/DeFCN/poto_3dmf_aux_R_50_FPN_3x.py --num-images 20 \\
        --output output/bench --opts scale=cpu

Per model: network ms (pre-processing + backbone + head), post-processing ms (decode, top-k,
threshold, and NMS when the model uses it), total ms, FPS, parameters and GFLOPs (fvcore, on the
first image): the columns of PSS Table 1 and YOLOF Table 1. Times are medians over the images,
after ``--warmup`` untimed images; with several configs the models are measured on the same
images, one after the other, and the table gives each one's speed-up against the first (ratios
are what transfers between machines). Images: the first config's test dataset, resized as each
config's test loader does, or ``--input`` files / folders / globs. Weights come from the configs
(``train.init_checkpoint`` / ``MODEL.WEIGHTS``); a random model costs the same in the network,
but its post-processing sees few candidates above the score threshold, so give trained weights
when post-processing time matters. ``--fuse-norm`` (fold batch norm into the convs) and
``--channels-last`` apply the same output-preserving speed-ups to every model compared
(``d2dense.modeling.fuse.prepare_for_inference``); parameters and FLOPs are then those of the
folded model. Writes ``benchmark.json`` (and prints a
markdown table).
"""

import argparse
import logging
import os
import sys

import torch

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

from detectron2.data import DatasetCatalog  # noqa: E402
from detectron2.data.detection_utils import read_image  # noqa: E402
from detectron2.utils.logger import setup_logger  # noqa: E402

from d2dense.benchmark import benchmark_model, format_table, write_json  # noqa: E402
from d2dense.engine import Predictor, load_config  # noqa: E402
from d2dense.modeling.fuse import prepare_for_inference  # noqa: E402

logger = logging.getLogger("d2dense.benchmark")


def image_paths(args, first_config):
    if args.input:
        sys.path.insert(0, os.path.join(REPO_ROOT, "tools"))
        from demo import expand_inputs

        paths = expand_inputs(args.input)
    else:
        name = first_config.test_dataset
        if not name:
            raise ValueError(f"{first_config.path}: no test dataset; pass --input images")
        paths = [d["file_name"] for d in DatasetCatalog.get(name)]
    if not paths:
        raise ValueError("no images to benchmark")
    return paths[: args.num_images]


def model_name(path):
    return os.path.splitext(os.path.basename(path))[0]


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--config-file", action="append", required=True, help="repeat to compare")
    ap.add_argument("--input", nargs="+", help="images / folders / globs (default: test set)")
    ap.add_argument("--num-images", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--no-flops", action="store_true", help="skip the FLOP count")
    ap.add_argument("--device", default=None, help="cpu / cuda (default: each config's)")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    ap.add_argument("--fuse-norm", action="store_true", help="fold batch norm into the convs")
    ap.add_argument("--channels-last", action="store_true", help="channels-last weights (NHWC)")
    ap.add_argument("--output", default=None, help="folder for benchmark.json")
    ap.add_argument("--opts", nargs=argparse.REMAINDER, default=[], help="overrides, every config")
    args = ap.parse_args(argv)
    setup_logger(name="d2dense")
    if args.threads:
        torch.set_num_threads(args.threads)

    configs = [load_config(path, args.opts, device=args.device) for path in args.config_file]
    paths = image_paths(args, configs[0])
    images = [read_image(p, format="BGR") for p in paths]
    rows = {}
    for loaded in configs:
        name = model_name(loaded.path)
        if name in rows:
            name = f"{name} ({len(rows)})"
        predictor = Predictor(loaded)
        prepare_for_inference(
            predictor.model, fuse_norm=args.fuse_norm, channels_last=args.channels_last
        )
        device = loaded.device
        inputs = []
        for img in images:
            x = predictor.preprocess(img)
            x["image"] = x["image"].to(device)
            inputs.append(x)
        rows[name] = benchmark_model(
            predictor.model, inputs, args.warmup, not args.no_flops, progress=True, desc=name
        )
        rows[name]["config"] = loaded.path
        del predictor
    device = configs[0].device
    where = (
        torch.cuda.get_device_name()
        if device.startswith("cuda")
        else f"CPU, {torch.get_num_threads()} threads"
    )
    baseline = next(iter(rows)) if len(rows) > 1 else None
    table = format_table(rows, baseline)
    print(f"\n{len(images)} images, batch 1, {where}, torch {torch.__version__}\n")
    print(table)
    payload = {
        "device": where,
        "images": paths,
        "opts": args.opts,
        "fuse_norm": args.fuse_norm,
        "channels_last": args.channels_last,
        "models": rows,
    }
    if args.output:
        os.makedirs(args.output, exist_ok=True)
        write_json(os.path.join(args.output, "benchmark.json"), payload)
        logger.info("wrote %s", os.path.join(args.output, "benchmark.json"))
    return payload


if __name__ == "__main__":
    main()
