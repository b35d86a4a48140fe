"""Inference cost of a detector at batch 1: network vs post-processing time, FPS, parameters, FLOPs.

The columns of PSS Table 1 and YOLOF Table 1. Used by ``tools/benchmark.py`` and by
``train_net.py --eval-only`` (which writes ``inference_timing.json`` beside ``metrics.json``).

The split between "network" and "post-processing" needs no change to the models: every d2dense
detector is a ``DenseDetector`` whose ``forward`` calls ``self.head(features)`` once, after the
backbone (and YOLOF's encoder, DeFCN's 3D max filtering, which live before or inside the head),
and then decodes, selects (top-k, score threshold, NMS when configured) and rescales. Forward
hooks on the model and on its head timestamp those two boundaries (with a CUDA synchronise on a
GPU), so network = pre-processing + backbone + head, post-processing = the rest.
"""

import json
import statistics
import time
from typing import Dict, List, Optional, Sequence

import torch
from torch import nn

__all__ = [
    "InferenceTimer",
    "count_parameters",
    "count_gflops",
    "uses_nms",
    "nms_time_ms",
    "summarize_times",
    "benchmark_model",
    "format_table",
    "write_json",
]


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


class InferenceTimer:
    """Context manager recording, per forward call of ``model``, the network and post-processing
    milliseconds (``records``: list of ``(network_ms, postprocess_ms)``; post-processing is None
    for a model without a ``head``: its whole forward counts as network)."""

    def __init__(self, model: nn.Module):
        self.model = _unwrap(model)
        self.records: List[tuple] = []
        self._handles = []
        self._t0 = self._t_head = None
        self._sync = lambda: None

    def _now(self):
        self._sync()
        return time.perf_counter()

    def _start(self, *_):
        self._t0, self._t_head = self._now(), None

    def _head_done(self, *_):
        self._t_head = self._now()

    def _end(self, *_):
        t_end = self._now()
        if self._t0 is None:
            return
        if self._t_head is None:
            self.records.append((1000 * (t_end - self._t0), None))
        else:
            self.records.append((1000 * (self._t_head - self._t0), 1000 * (t_end - self._t_head)))
        self._t0 = None

    def __enter__(self):
        device = next(self.model.parameters()).device
        if device.type == "cuda":
            self._sync = torch.cuda.synchronize
        self._handles = [
            self.model.register_forward_pre_hook(self._start),
            self.model.register_forward_hook(self._end),
        ]
        head = getattr(self.model, "head", None)
        if isinstance(head, nn.Module):
            self._handles.append(head.register_forward_hook(self._head_done))
        return self

    def __exit__(self, *exc):
        for h in self._handles:
            h.remove()
        self._handles = []


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in _unwrap(model).parameters())


def count_gflops(model: nn.Module, inputs: List[dict]) -> float:
    """GFLOPs of one forward on ``inputs`` (fvcore through detectron2's wrapper: one fused
    multiply-add counts as one flop, the convention of detectron2's and the papers' tables)."""
    from detectron2.utils.analysis import FlopCountAnalysis

    model = _unwrap(model)
    with torch.no_grad():
        return FlopCountAnalysis(model, inputs).unsupported_ops_warnings(False).total() / 1e9


def uses_nms(model: nn.Module) -> bool:
    """Whether the model's own inference applies NMS (``test_nms_thresh`` set)."""
    return getattr(_unwrap(model), "test_nms_thresh", None) is not None


def summarize_times(records: Sequence[tuple]) -> Dict[str, Optional[float]]:
    """Medians over images (robust to the noise of shared machines) and the FPS they imply."""
    if not records:
        return {"network_ms": None, "postprocess_ms": None, "total_ms": None, "fps": None}
    network = statistics.median(r[0] for r in records)
    post = [r[1] for r in records if r[1] is not None]
    post_ms = statistics.median(post) if post else None
    total = statistics.median(r[0] + (r[1] or 0.0) for r in records)
    return {
        "network_ms": network,
        "postprocess_ms": post_ms,
        "total_ms": total,
        "fps": 1000.0 / total if total > 0 else None,
        "images": len(records),
    }


def benchmark_model(
    model: nn.Module,
    inputs: Sequence[dict],
    warmup: int = 2,
    flops: bool = True,
    progress: bool = False,
    desc: str = "",
    nms_thresh: float = 0.6,
) -> Dict[str, object]:
    """Time ``model`` image by image (batch 1) on ``inputs`` (detectron2 input dicts) after
    ``warmup`` untimed runs; add parameters, GFLOPs (on the first input), whether it uses NMS, and
    what class-aware NMS at ``nms_thresh`` costs on its outputs (the price an NMS-free detector
    avoids, or a one-to-many detector that leaves NMS to the evaluator would pay)."""
    model.eval()
    iterator = inputs
    if progress:
        from tqdm import tqdm

        iterator = tqdm(inputs, desc=desc or "benchmark", unit="img")
    with torch.no_grad():
        for i in range(min(warmup, len(inputs))):
            model([inputs[i]])
        with InferenceTimer(model) as timer:
            outputs = [model([x])[0]["instances"] for x in iterator]
    result = summarize_times(timer.records)
    result["nms_on_outputs_ms"] = nms_time_ms(outputs, nms_thresh, sync=timer._sync)
    result["params_M"] = count_parameters(model) / 1e6
    result["gflops"] = count_gflops(model, [inputs[0]]) if flops and len(inputs) else None
    result["nms"] = uses_nms(model)
    result["device"] = str(next(model.parameters()).device)
    return result


def nms_time_ms(outputs, nms_thresh: float, sync=lambda: None) -> Optional[float]:
    """Median milliseconds of class-aware NMS on each image's output ``Instances``."""
    from detectron2.layers import batched_nms

    times = []
    for inst in outputs:
        sync()
        t0 = time.perf_counter()
        batched_nms(inst.pred_boxes.tensor, inst.scores, inst.pred_classes, nms_thresh)
        sync()
        times.append(1000 * (time.perf_counter() - t0))
    return statistics.median(times) if times else None


def _fmt(v, digits=1):
    return "-" if v is None else f"{v:.{digits}f}"


def format_table(rows: Dict[str, Dict[str, object]], baseline: Optional[str] = None) -> str:
    """Markdown table of ``{name: benchmark_model(...)}``; with ``baseline``, each row's speed-up
    (baseline total ms / row total ms) measured in the same run."""
    header = [
        "model",
        "params (M)",
        "GFLOPs",
        "network ms",
        "post-proc. ms",
        "NMS in post-proc.",
        "NMS on outputs ms",
        "total ms",
        "FPS",
    ]
    if baseline:
        header.append(f"speed-up vs {baseline}")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    base_total = rows[baseline]["total_ms"] if baseline else None
    for name, r in rows.items():
        cells = [
            name,
            _fmt(r["params_M"]),
            _fmt(r["gflops"]),
            _fmt(r["network_ms"]),
            _fmt(r["postprocess_ms"], 2),
            "yes" if r["nms"] else "no",
            _fmt(r.get("nms_on_outputs_ms"), 2),
            _fmt(r["total_ms"]),
            _fmt(r["fps"], 2),
        ]
        if baseline:
            cells.append(f"{base_total / r['total_ms']:.2f}x" if r["total_ms"] else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_json(path: str, payload) -> None:
    with open(path, "w") as f:
        json.dump(payload, f, indent=2)
