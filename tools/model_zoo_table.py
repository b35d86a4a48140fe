#!/usr/bin/env python
"""Print MODEL_ZOO.md's table from the published checkpoints (``manifest.json`` of the zoo root),
so every figure in it comes from a run's own files, never typed by hand.

    python tools/model_zoo_table.py [--root DIR] [--link-root URL]

Columns (detectron2's MODEL_ZOO.md): name linked to its config, backbone, schedule (iterations at
batch 4 for the CPU-scale models), data, AP w/o NMS, AP w/ NMS, Delta, mAR (AR@100 w/o NMS),
train time (s/iter, median over the logged iterations), inference time (s/im, batch 1, median,
from the run's final evaluation), train memory (CUDA peak when trained on a GPU, else "-"),
model id, and links to the model and its metrics.
"""

import argparse
import json
import os
import statistics
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

from d2dense.model_zoo import CPU_MODELS, model_zoo_root  # noqa: E402
from detectron2.config import LazyConfig  # noqa: E402

from d2dense.model_zoo.model_zoo import read_manifest  # noqa: E402

HEADER = [
    "Name",
    "backbone",
    "sched (iters)",
    "data (train -> test)",
    "AP w/o NMS",
    "AP w/ NMS",
    "Delta",
    "mAR",
    "train time (s/iter)",
    "inference time (s/im)",
    "train mem (GB)",
    "model id",
    "download",
]


def _load(root, rel):
    if not rel:
        return None
    path = os.path.join(root, rel)
    if not os.path.isfile(path):
        return None
    if path.endswith("metrics.json"):  # detectron2 writes one JSON object per line
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    with open(path) as f:
        return json.load(f)


def _fmt(v, digits=1):
    return "-" if v is None or v != v else f"{v:.{digits}f}"


def row(name, record, root, link_root):
    entry = CPU_MODELS.get(name, {})
    results = _load(root, record.get("eval_results")) or {}
    timing = _load(root, record.get("inference_timing")) or {}
    metrics = _load(root, record.get("metrics")) or []
    raw, nms = results.get("bbox", {}), results.get("bbox_nms", {})
    delta = nms["AP"] - raw["AP"] if "AP" in raw and "AP" in nms else None
    iter_times = [m["time"] for m in metrics if "time" in m]
    mem = [m["max_mem"] for m in metrics if "max_mem" in m]
    data, iters = "-", "-"
    if "config" in record:
        cfg = LazyConfig.load(os.path.join(root, record["config"]))
        data = f"{cfg.dataloader.train.dataset.names} -> {cfg.dataloader.test.dataset.names}"
        iters = str(cfg.train.max_iter)
    config = entry.get("config", name)
    backbone = ("R18-C5" if config.startswith("YOLOF/") else "R18-FPN") + " (CPU scale)"
    model_id = record["checkpoint"].split("/")[-2]
    links = f"[model]({link_root}/{record['checkpoint']})"
    if "metrics" in record:
        links += f" \\| [metrics]({link_root}/{record['metrics']})"
    return [
        f"[{name}](configs/{config})",
        backbone,
        iters,
        data,
        _fmt(raw.get("AP")),
        _fmt(nms.get("AP")),
        _fmt(delta),
        _fmt(raw.get("AR@100")),
        _fmt(statistics.median(iter_times), 2) if iter_times else "-",
        _fmt(timing["total_ms"] / 1000, 3) if timing.get("total_ms") else "-",
        _fmt(max(mem) / 1024, 1) if mem else "-",
        model_id,
        links,
    ]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--root", default=None)
    ap.add_argument("--link-root", default=None, help="URL prefix for links (default: the root)")
    args = ap.parse_args(argv)
    root = args.root or model_zoo_root()
    manifest = read_manifest(root)
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for name in sorted(manifest):
        lines.append("| " + " | ".join(row(name, manifest[name], root, args.link_root or root)) + " |")
    table = "\n".join(lines)
    print(table)
    return table


if __name__ == "__main__":
    main()
