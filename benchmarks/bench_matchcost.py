#!/usr/bin/env python
"""Per-image POTO assignment time: matchcost (sparse candidate sub-problem) vs the dense reference.

The dense baseline is what the reference DeFCN does: full (G, R) quality matrix
``p^(1-a) * IoU^a`` with -1 outside the prior, then ``scipy.optimize.linear_sum_assignment`` on it.
Both run on the same inputs in the same process; the optimal total qualities are checked to agree.

    python benchmarks/bench_matchcost.py                 # CPU, markdown table
    python benchmarks/bench_matchcost.py --device cuda   # tensors on the GPU (solver core stays on CPU)

Not a test: nothing here is asserted except that both paths reach the same optimum.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import matchcost as mc  # noqa: E402

STRIDES = (8, 16, 32, 64, 128)


def make_points(h: int, w: int, device):
    pts, strides, counts = [], [], []
    for s in STRIDES:
        H, W = math.ceil(h / s), math.ceil(w / s)
        ys, xs = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
        p = torch.stack(((xs.reshape(-1) + 0.5) * s, (ys.reshape(-1) + 0.5) * s), dim=1).float()
        pts.append(p)
        strides.append(torch.full((H * W,), float(s)))
        counts.append(H * W)
    return torch.cat(pts).to(device), torch.cat(strides).to(device), counts


def make_scene(kind: str, G: int, h: int, w: int, K: int, gen: torch.Generator):
    """Exactly G boxes (clipped to the image, at least 2 px wide and high)."""
    want, G = G, 2 * G + 8
    if kind == "coco":
        size = torch.exp(torch.empty(G).uniform_(math.log(12), math.log(600), generator=gen))
        ar = torch.exp(torch.empty(G).uniform_(-0.7, 0.7, generator=gen))
        bw, bh = size * ar.sqrt(), size / ar.sqrt()
        cx = torch.rand(G, generator=gen) * w
        cy = torch.rand(G, generator=gen) * h
    else:  # crowded, CrowdHuman-like: many overlapping person boxes in a few clusters
        bh = torch.exp(torch.empty(G).uniform_(math.log(40), math.log(400), generator=gen))
        bw = bh * torch.empty(G).uniform_(0.35, 0.5, generator=gen)
        n_cl = 6
        cl = torch.randint(n_cl, (G,), generator=gen)
        ccx = torch.rand(n_cl, generator=gen) * w
        ccy = torch.rand(n_cl, generator=gen) * h * 0.6 + 0.2 * h
        cx = ccx[cl] + torch.randn(G, generator=gen) * 120
        cy = ccy[cl] + torch.randn(G, generator=gen) * 60
    boxes = torch.stack((cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2), dim=1)
    boxes[:, 0::2] = boxes[:, 0::2].clamp(0, w)
    boxes[:, 1::2] = boxes[:, 1::2].clamp(0, h)
    ok = (boxes[:, 2] - boxes[:, 0] > 2) & (boxes[:, 3] - boxes[:, 1] > 2)
    boxes = boxes[ok][:want]
    assert boxes.shape[0] == want
    classes = torch.randint(K, (boxes.shape[0],), generator=gen)
    return boxes, classes


def make_predictions(points, strides, K, gen):
    R = points.shape[0]
    ltrb = strides[:, None].cpu() * torch.exp(torch.randn(R, 4, generator=gen) * 0.6) * 3
    ltrb = ltrb.to(points.device)
    boxes = torch.cat((points - ltrb[:, :2], points + ltrb[:, 2:]), dim=1)
    probs = torch.sigmoid(torch.randn(R, K, generator=gen) * 1.5 - 3).to(points.device)
    probs = probs * torch.sigmoid(torch.randn(R, 1, generator=gen)).to(points.device)
    return probs, boxes


def dense_reference(probs, boxes, gt, cls, points, strides, radius, alpha=0.8):
    """The reference DeFCN POTO (defcn.md §3): dense quality, -1 outside prior, scipy LSA on CPU."""
    prob = probs[:, cls].t()
    iou = mc.pairwise_iou(gt, boxes)
    q = prob ** (1 - alpha) * iou**alpha
    if radius > 0:
        ctr = mc.box_centers(gt)
        rs = radius * strides[None, :]
        x0 = torch.maximum(ctr[:, 0:1] - rs, gt[:, 0:1])
        y0 = torch.maximum(ctr[:, 1:2] - rs, gt[:, 1:2])
        x1 = torch.minimum(ctr[:, 0:1] + rs, gt[:, 2:3])
        y1 = torch.minimum(ctr[:, 1:2] + rs, gt[:, 3:4])
        x, y = points[None, :, 0], points[None, :, 1]
        inside = torch.stack((x - x0, y - y0, x1 - x, y1 - y), dim=2).min(dim=2).values > 0
    else:
        inside = mc.point_box_ltrb(points, gt).min(dim=2).values > 0
    q[~inside] = -1
    t0 = time.perf_counter()
    r, c = linear_sum_assignment(q.cpu().numpy(), maximize=True)
    t_solve = time.perf_counter() - t0
    return float(q.cpu().numpy()[r, c].sum()), t_solve


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def timeit(fn, device, reps, min_time=0.3):
    fn()
    sync(device)
    times = []
    t_start = time.perf_counter()
    while len(times) < reps or (
        time.perf_counter() - t_start < min_time and len(times) < 50 * reps
    ):
        t0 = time.perf_counter()
        out = fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--threads", type=int, default=1, help="torch.set_num_threads (0 = leave torch default)"
    )
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    h, w = 800, 1333
    points, strides, counts = make_points(h, w, device)
    R = points.shape[0]
    print(
        f"device={device} torch={torch.__version__} threads={torch.get_num_threads()} points={R} levels={counts}"
    )
    rows = []
    cases = [("coco", 7, 80), ("coco", 50, 80), ("crowded", 200, 1), ("crowded", 500, 1)]
    for kind, G, K in cases:
        for prior, radius in (("center", 1.5), ("inside", 0.0)):
            gen = torch.Generator().manual_seed(args.seed + G)
            gt, cls = make_scene(kind, G, h, w, K, gen)
            gt, cls = gt.to(device), cls.to(device)
            probs, boxes = make_predictions(points, strides, K, gen)
            probs_h = probs.half()

            def ours():
                return mc.poto_assign(
                    probs,
                    boxes,
                    gt,
                    cls,
                    points=points,
                    strides=strides,
                    num_points_per_level=counts,
                    prior=prior,
                    radius=radius,
                )

            def costs_only():
                cand = mc.center_sampling_prior(
                    points, gt, strides, radius, num_points_per_level=counts
                )
                return cand, mc.poto_quality(probs, boxes, gt, cls, cand)

            t_ours, a = timeit(ours, device, args.reps)
            t_cost, (cand, q) = timeit(costs_only, device, args.reps)
            t_solve, _ = timeit(lambda: mc.hungarian(q, cand, outside=-1.0), device, args.reps)
            t_dense, (v_dense, t_dense_solve) = timeit(
                lambda: dense_reference(probs, boxes, gt, cls, points, strides, radius),
                device,
                max(1, args.reps // 2),
                min_time=0.0,
            )
            # same optimum? (value of ours counts -1 for every gt left without a candidate)
            q = a.scores.double().sum().item() - 1.0 * a.num_unmatched_gt
            assert abs(q - v_dense) < 1e-3 * max(1.0, abs(v_dense)), (q, v_dense)
            a16 = mc.poto_assign(
                probs_h,
                boxes.half(),
                gt.half(),
                cls,
                points=points,
                strides=strides,
                num_points_per_level=counts,
                prior=prior,
                radius=radius,
            )
            rows.append(
                dict(
                    scene=kind,
                    G=int(gt.shape[0]),
                    prior=f"{prior} r={radius}",
                    pairs=len(cand),
                    dense=t_dense * 1e3,
                    dense_solve=t_dense_solve * 1e3,
                    ours=t_ours * 1e3,
                    cost=t_cost * 1e3,
                    solve=t_solve * 1e3,
                    unmatched=a.num_unmatched_gt,
                    fp16_ok=a16.num_gt == a.num_gt,
                )
            )
    print()
    print(
        "| scene | G | prior | candidate pairs | dense ref (ms) | of which LSA (ms) | matchcost (ms) "
        "| prior+quality (ms) | solve (ms) | speed-up |",
        flush=True,
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['scene']} | {r['G']} | {r['prior']} | {r['pairs']} | {r['dense']:.1f} | {r['dense_solve']:.1f} | "
            f"{r['ours']:.2f} | {r['cost']:.2f} | {r['solve']:.2f} | {r['dense'] / r['ours']:.0f}x |"
        )


if __name__ == "__main__":
    main()
