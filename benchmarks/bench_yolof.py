#!/usr/bin/env python
"""YOLOF's speed claim (Table 1: 86 vs 201 GFLOPs, 2.5x faster than RetinaNet on a GPU), measured.

    nice -n 19 python benchmarks/bench_yolof.py [--iters 5] [--images 2] [--device cpu]

YOLOF-R50-C5 (configs/YOLOF/yolof_R_50_C5_1x.py) vs detectron2's RetinaNet-R50-FPN
(configs/Baselines/retinanet_R_50_FPN_1x.py), same process, same images (the bundled
coco_sample, resized as at test time), batch 1, eval mode under ``torch.inference_mode``, models
interleaved image by image. Both models keep the paper's inference (score 0.05, top-1000, class-
aware NMS, 100 detections). Weights are random (no checkpoint is needed for cost): with untrained
heads almost no score passes 0.05, so the latency is the network plus a near-empty
post-processing. FLOPs: fvcore ``FlopCountAnalysis`` through detectron2's wrapper (one fused
multiply-add = one flop, the convention of the paper's detectron2 counter), mean over the images.
Sizes: short side 800 (max 1333, the paper's) and the small CPU size 320 (max 533), both with the
paper-scale R50 models. Prints a markdown table with the ratios.

Inference modes (``--modes``, every model of every mode interleaved in the same loop, so the
ratios share the machine's state): ``plain`` is the models as built; ``fused`` folds every batch
norm (the backbones' FrozenBN, YOLOF's encoder/decoder BN) into its conv
(``d2dense.modeling.fuse.prepare_for_inference``: same outputs, one op fewer per conv); ``fused+cl``
also puts weights in channels-last memory format. Each optimisation is applied to both models;
RetinaNet's head and FPN have no norm to fold, so ``fused`` helps it only in the backbone.
"""

import argparse
import os
import statistics
import sys
import time

import torch

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

from detectron2.config import LazyConfig, instantiate  # noqa: E402
from detectron2.data import DatasetCatalog  # noqa: E402
from detectron2.data import transforms as T  # noqa: E402
from detectron2.data.detection_utils import read_image  # noqa: E402

import d2dense.data  # noqa: E402,F401
from d2dense.benchmark import count_gflops  # noqa: E402
from d2dense.modeling.fuse import prepare_for_inference  # noqa: E402
from d2dense.utils import import_method_packages  # noqa: E402

MODELS = {
    "RetinaNet-R50-FPN": "Baselines/retinanet_R_50_FPN_1x.py",
    "YOLOF-R50-C5": "YOLOF/yolof_R_50_C5_1x.py",
}
SIZES = {"800 (max 1333)": (800, 1333), "320 (max 533)": (320, 533)}
MODES = ("plain", "fused", "fused+cl")


def build(rel_path, device, mode="plain"):
    if mode not in MODES:
        raise ValueError(f"--modes: unknown inference mode {mode!r}; choose from {MODES}")
    cfg = LazyConfig.load(os.path.join(REPO_ROOT, "configs", rel_path))
    model = cfg.model
    model.test_nms_thresh = 0.6 if "YOLOF" in rel_path else 0.5  # each detector's own NMS
    model.max_detections_per_image = 100
    torch.manual_seed(0)
    return prepare_for_inference(
        instantiate(model).to(device),
        fuse_norm=mode != "plain",
        channels_last=mode == "fused+cl",
    )


def load_images(num_images, short_side, max_size):
    dicts = DatasetCatalog.get("coco_sample")[:num_images]
    resize = T.ResizeShortestEdge(short_side, max_size)
    images = []
    for d in dicts:
        img = read_image(d["file_name"], format="BGR")
        img = resize.get_transform(img).apply_image(img)
        images.append(torch.as_tensor(img.transpose(2, 0, 1).copy()))
    return images


def measure(models, images, iters, warmup, device):
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    times = {name: [] for name in models}
    flops = {name: [] for name in models}
    with torch.inference_mode():
        for img in images:
            inputs = [{"image": img.to(device)}]
            for name, model in models.items():
                flops[name].append(count_gflops(model, inputs))
        for img in images:
            inputs = [{"image": img.to(device)}]
            for it in range(warmup + iters):
                for name, model in models.items():
                    sync()
                    t0 = time.perf_counter()
                    model(inputs)
                    sync()
                    if it >= warmup:
                        times[name].append(time.perf_counter() - t0)
    return {n: statistics.mean(f) for n, f in flops.items()}, {
        n: statistics.median(t) for n, t in times.items()
    }


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--iters", type=int, default=5, help="timed runs per image and model")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--images", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    ap.add_argument(
        "--modes", default=",".join(MODES), help=f"comma-separated inference modes from {MODES}"
    )
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    import_method_packages()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    models = {
        (mode, name): build(path, args.device, mode)
        for mode in modes
        for name, path in MODELS.items()
    }
    device = (
        torch.cuda.get_device_name()
        if args.device.startswith("cuda")
        else f"CPU, {torch.get_num_threads()} threads"
    )
    print(
        f"device: {device}; torch {torch.__version__}; {args.images} images x {args.iters} runs, batch 1\n"
    )
    print(
        "| short side | mode | RetinaNet GFLOPs | YOLOF GFLOPs | FLOP ratio | RetinaNet ms (median) "
        "| YOLOF ms (median) | speed-up |"
    )
    print("|---|---|---|---|---|---|---|---|", flush=True)
    r, y = "RetinaNet-R50-FPN", "YOLOF-R50-C5"
    for size_name, (short, max_size) in SIZES.items():
        images = load_images(args.images, short, max_size)
        gflops, latency = measure(models, images, args.iters, args.warmup, args.device)
        for mode in modes:
            gr, gy = gflops[mode, r], gflops[mode, y]
            lr, ly = latency[mode, r], latency[mode, y]
            print(
                f"| {size_name} | {mode} | {gr:.1f} | {gy:.1f} | {gr / gy:.2f}x | "
                f"{1000 * lr:.0f} | {1000 * ly:.0f} | {lr / ly:.2f}x |",
                flush=True,
            )


if __name__ == "__main__":
    main()
