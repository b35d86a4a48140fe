#!/usr/bin/env python
"""Training- and inference-time overhead of the PSS branch: FCOS_PSS vs FCOS (the paper: ~8%).

    .venv/bin/python benchmarks/bench_pss_overhead.py                  # CPU variant, 320x480 (< 1 min)
    .venv/bin/python benchmarks/bench_pss_overhead.py --scale paper --device cuda --size 800 1333

FCOS is d2dense's registered FCOS (Baselines/fcos_R_50_FPN_1x.py) with class-aware NMS 0.6 and
100 detections; FCOS_PSS is PSS/fcos_pss_R_50_FPN_3x.py (no NMS, top 100). Same backbone and
towers, random weights, one image per iteration, median of ``--iters`` timed iterations after
warm-up. A training iteration is forward + losses (incl. the one-to-one assignment) + backward.
"""

import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

from detectron2.utils.events import EventStorage  # noqa: E402

from helpers import build_model, make_instances  # noqa: E402

MODELS = (
    (
        "FCOS",
        "Baselines/fcos_R_50_FPN_1x.py",
        ("model.test_nms_thresh=0.6", "model.max_detections_per_image=100"),
    ),
    ("FCOS_PSS", "PSS/fcos_pss_R_50_FPN_3x.py", ()),
)


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def median_ms(fn, iters, warmup, device):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", choices=("cpu", "paper"), default="cpu")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, nargs=2, default=(320, 480), metavar=("H", "W"))
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (1 on a busy machine)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    h, w = args.size
    torch.manual_seed(0)
    image = torch.rand(3, h, w) * 255
    boxes = [
        [0.1 * w, 0.1 * h, 0.5 * w, 0.6 * h],
        [0.4 * w, 0.3 * h, 0.9 * w, 0.9 * h],
        [0.7 * w, 0.05 * h, 0.8 * w, 0.2 * h],
    ]
    sample = {
        "image": image.to(args.device),
        "instances": make_instances(h, w, boxes, [0, 1, 2]).to(args.device),
    }

    results = {}
    for name, config, overrides in MODELS:
        model = build_model(config, scale=args.scale, overrides=overrides).to(args.device)

        def train_step():
            model.train()
            with EventStorage():
                sum(model([sample]).values()).backward()
            model.zero_grad(set_to_none=True)

        def infer():
            model.eval()
            with torch.no_grad():
                model([{"image": sample["image"]}])

        results[name] = (
            median_ms(train_step, args.iters, args.warmup, args.device),
            median_ms(infer, args.iters, args.warmup, args.device),
        )

    print(
        f"\n{args.scale} scale, {args.device}, {h}x{w}, torch threads {args.threads}, median of {args.iters}\n"
    )
    print("| model | train iter (ms) | inference (ms) |\n|---|---|---|")
    for name, (train_ms, infer_ms) in results.items():
        print(f"| {name} | {train_ms:.1f} | {infer_ms:.1f} |")
    (fcos_train, fcos_infer), (pss_train, pss_infer) = results["FCOS"], results["FCOS_PSS"]
    print(f"| FCOS_PSS / FCOS | {pss_train / fcos_train:.3f} | {pss_infer / fcos_infer:.3f} |")


if __name__ == "__main__":
    main()
