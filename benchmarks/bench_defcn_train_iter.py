#!/usr/bin/env python
"""Per-iteration training time of DeFCN vs FCOS on the same inputs, and the share of DeFCN's
iteration spent in label assignment (POTO + aux rule), at the small CPU size.

    python benchmarks/bench_defcn_train_iter.py [--iters 10] [--dataset coco_sample_person]

Same process, same batch of real images (short side 320, batch 4), models interleaved iteration by
iteration so machine drift hits both equally; prints medians and ratios (one run).
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
from detectron2.utils.events import EventStorage  # noqa: E402

import d2dense.data  # noqa: E402,F401
from d2dense.config import apply_scale  # noqa: E402
from d2dense.utils import import_method_packages  # noqa: E402

MODELS = {
    "FCOS w/o ctr": "Baselines/fcos_wo_ctr_R_50_FPN_3x.py",
    "FCOS": "Baselines/fcos_R_50_FPN_3x.py",
    "DeFCN POTO+3DMF+Aux": "DeFCN/poto_3dmf_aux_R_50_FPN_3x.py",
}


def load_batch(dataset, batch_size):
    cfg = LazyConfig.load(os.path.join(REPO_ROOT, "configs", MODELS["FCOS"]))
    apply_scale(cfg, "cpu")
    cfg.dataloader.train.dataset.names = dataset
    cfg.dataloader.train.total_batch_size = batch_size
    cfg.dataloader.train.num_workers = 0
    return next(iter(instantiate(cfg.dataloader.train)))


def build(rel, num_classes):
    cfg = LazyConfig.load(os.path.join(REPO_ROOT, "configs", rel))
    apply_scale(cfg, "cpu")
    cfg.model.num_classes = num_classes
    torch.manual_seed(0)
    model = instantiate(cfg.model)
    model.train()
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--dataset", default="coco_sample_person")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    import_method_packages()
    num_classes = len(
        __import__("detectron2.data", fromlist=["MetadataCatalog"])
        .MetadataCatalog.get(args.dataset)
        .thing_classes
    )
    DatasetCatalog.get(args.dataset)
    batch = load_batch(args.dataset, 4)
    models = {name: build(rel, num_classes) for name, rel in MODELS.items()}
    optims = {n: torch.optim.SGD(m.parameters(), lr=1e-4) for n, m in models.items()}

    # time DeFCN's label assignment inside its training step
    defcn = models["DeFCN POTO+3DMF+Aux"]
    assign_times = []
    original = defcn.label_points

    def timed_label_points(*a, **k):
        t = time.perf_counter()
        out = original(*a, **k)
        assign_times.append(time.perf_counter() - t)
        return out

    defcn.label_points = timed_label_points

    times = {n: [] for n in models}
    with EventStorage():
        for it in range(args.warmup + args.iters):
            for name, model in models.items():
                t = time.perf_counter()
                losses = model(batch)
                optims[name].zero_grad()
                sum(losses.values()).backward()
                optims[name].step()
                if it >= args.warmup:
                    times[name].append(time.perf_counter() - t)
    assign = statistics.median(assign_times[args.warmup :])
    base = statistics.median(times["FCOS w/o ctr"])
    print(
        f"\nbatch 4 of {args.dataset}, short side 320, {args.iters} timed iterations, torch threads {torch.get_num_threads()}\n"
    )
    print("| model | median s/iter | ratio vs FCOS w/o ctr |")
    print("|---|---|---|")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"| {name} | {med:.3f} | {med / base:.2f}x |")
    d = statistics.median(times["DeFCN POTO+3DMF+Aux"])
    print(
        f"\nDeFCN label assignment (POTO + aux rule, 4 images): median {assign * 1000:.1f} ms = {100 * assign / d:.1f}% of its iteration"
    )


if __name__ == "__main__":
    main()
