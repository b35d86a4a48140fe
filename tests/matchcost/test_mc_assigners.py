"""One-call assigners: hand cases, agreement with dense reference implementations, 0 gts, fp16, CUDA."""

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

import matchcost as mc

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


def grid_points(levels, offset=0.5):
    pts, strides, counts = [], [], []
    for s, H, W in levels:
        ys, xs = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
        pts.append(
            torch.stack(((xs.reshape(-1) + offset) * s, (ys.reshape(-1) + offset) * s), 1).float()
        )
        strides.append(torch.full((H * W,), float(s)))
        counts.append(H * W)
    return torch.cat(pts), torch.cat(strides), counts


def random_scene(
    seed, G, levels=((8, 8, 10), (16, 4, 5), (32, 2, 3)), K=3, tiny=False, outside=False
):
    g = torch.Generator().manual_seed(seed)
    pts, strides, counts = grid_points(levels)
    R = pts.shape[0]
    ltrb = strides[:, None] * torch.exp(torch.randn(R, 4, generator=g) * 0.5) * 1.5
    boxes = torch.cat((pts - ltrb[:, :2], pts + ltrb[:, 2:]), 1)
    probs = torch.rand(R, K, generator=g)
    xy = torch.rand(G, 2, generator=g) * 80 - (10 if outside else 0)  # may extend outside the image
    wh = torch.rand(G, 2, generator=g) * (4 if tiny else 60) + 1
    gt = torch.cat((xy, xy + wh), 1)
    cls = torch.randint(K, (G,), generator=g)
    return pts, strides, counts, probs, boxes, gt, cls


def reference_poto(probs, boxes, gt, cls, pts, strides, radius, alpha=0.8):
    """defcn.md §3: dense Q with -1 outside the prior, scipy on the whole matrix."""
    q = probs[:, cls].t() ** (1 - alpha) * mc.pairwise_iou(gt, boxes) ** alpha
    if radius > 0:
        ctr = mc.box_centers(gt)
        rs = radius * strides[None]
        reg = [
            torch.maximum(ctr[:, 0:1] - rs, gt[:, 0:1]),
            torch.maximum(ctr[:, 1:2] - rs, gt[:, 1:2]),
            torch.minimum(ctr[:, 0:1] + rs, gt[:, 2:3]),
            torch.minimum(ctr[:, 1:2] + rs, gt[:, 3:4]),
        ]
        x, y = pts[None, :, 0], pts[None, :, 1]
        inside = torch.stack((x - reg[0], y - reg[1], reg[2] - x, reg[3] - y), 2).min(2).values > 0
    else:
        inside = mc.point_box_ltrb(pts, gt).min(2).values > 0
    q[~inside] = -1
    r, c = linear_sum_assignment(q.numpy(), maximize=True)
    return q, float(q.numpy().astype(np.float64)[r, c].sum()), r, c


@settings(max_examples=80, **SETTINGS)
@given(
    st.integers(0, 10**6),
    st.integers(0, 12),
    st.sampled_from([1.5, 0.0]),
    st.booleans(),
    st.booleans(),
    st.sampled_from(["hungarian", "argmax"]),
)
def test_poto_matches_reference(seed, G, radius, tiny, outside, solver):
    pts, strides, counts, probs, boxes, gt, cls = random_scene(seed, G, tiny=tiny, outside=outside)
    prior = "center" if radius > 0 else "inside"
    a = mc.poto_assign(
        probs,
        boxes,
        gt,
        cls,
        points=pts,
        strides=strides,
        num_points_per_level=counts,
        prior=prior,
        radius=radius,
        solver=solver,
    )
    q, ref, r, c = reference_poto(probs, boxes, gt, cls, pts, strides, radius)
    for g, p in zip(a.gt_inds.tolist(), a.pred_inds.tolist()):
        assert q[g, p] >= 0  # inside the prior
        assert a.scores[a.gt_inds == g].item() == pytest.approx(q[g, p].item(), abs=1e-6)
    if solver == "hungarian":
        val = float(a.scores.double().sum()) - a.num_unmatched_gt
        assert val == pytest.approx(ref, abs=1e-4)
        b = mc.poto_assign(
            probs,
            boxes,
            gt,
            cls,
            points=pts,
            strides=strides,
            num_points_per_level=counts,
            prior=prior,
            radius=radius,
            unmatched="reference",
        )
        assert b.gt_inds.numel() == G  # the reference always yields G positives
        assert float(b.scores.double().sum()) == pytest.approx(ref, abs=1e-4)
        # same structure as scipy: gts matched outside their prior
        assert int(b.forced.sum()) == b.num_unmatched_gt
        assert a.num_unmatched_gt == b.num_unmatched_gt
    else:
        # argmax: each matched gt has its row maximum inside the prior
        for g, p in zip(a.gt_inds.tolist(), a.pred_inds.tolist()):
            assert q[g, p] == q[g][q[g] >= 0].max()


def test_poto_hand_and_unmatched_modes():
    pts, strides, counts = grid_points([(8, 4, 4)])
    R = pts.shape[0]
    boxes = torch.cat((pts - 6, pts + 6), 1)  # 12x12 box around every point
    probs = torch.full((R, 2), 0.1)
    probs[5, 0] = 0.9  # point (12,12)
    probs[6, 0] = 0.8  # point (20,12)
    gt = torch.tensor(
        [[4.0, 4.0, 26.0, 20.0], [25.0, 25.0, 26.5, 26.5]]
    )  # second: tiny, no point inside
    cls = torch.tensor([0, 1])
    a = mc.poto_assign(probs, boxes, gt, cls, points=pts, strides=strides, prior="inside")
    assert a.gt_inds.tolist() == [0]
    # IoU(gt0, box@5) = 144/(352) ; IoU(gt0, box@6) = 144/352 -> tie in IoU, 0.9 > 0.8 wins
    assert a.pred_inds.tolist() == [5]
    assert a.scores.item() == pytest.approx(0.9**0.2 * (144 / 352) ** 0.8, rel=1e-5)
    assert a.num_unmatched_gt == 1 and a.labels.tolist().count(-1) == R - 1
    b = mc.poto_assign(
        probs, boxes, gt, cls, points=pts, strides=strides, prior="inside", unmatched="reference"
    )
    # the tiny gt is forced onto the lowest-index free point (0), like scipy in the reference
    assert b.gt_inds.tolist() == [0, 1] and b.pred_inds.tolist() == [5, 0]
    assert b.forced.tolist() == [False, True] and b.labels[0] == 1
    c = mc.poto_assign(
        probs, boxes, gt, cls, points=pts, strides=strides, prior="inside", mode="add", alpha=0.8
    )
    assert c.scores.item() == pytest.approx(0.2 * 0.9 + 0.8 * 144 / 352, rel=1e-5)
    # PSS: caller-supplied Omega; gt0 restricted to point 6
    omega = torch.zeros(2, R, dtype=torch.bool)
    omega[0, 6] = True
    d = mc.pss_assign(probs, boxes, gt, cls, omega)
    assert d.pred_inds.tolist() == [6] and d.num_unmatched_gt == 1
    e = mc.pss_assign(probs, boxes, gt, cls, omega, solver="argmax")
    assert e.pred_inds.tolist() == [6]


def test_poto_global_prior_dense_path():
    pts, strides, counts, probs, boxes, gt, cls = random_scene(3, 6)
    a = mc.poto_assign(probs, boxes, gt, cls, points=pts, prior="global")
    q = mc.poto_quality(probs, boxes, gt, cls)
    r, c = linear_sum_assignment(q.numpy(), maximize=True)
    assert float(a.scores.double().sum()) == pytest.approx(
        float(q.numpy()[r, c].astype(np.float64).sum()), abs=1e-5
    )
    assert a.gt_inds.numel() == 6


def test_foreground_loss_matches_reference():
    for seed in range(10):
        pts, strides, counts, probs, boxes, gt, cls = random_scene(seed, 7, tiny=seed % 3 == 0)
        a = mc.foreground_loss_assign(
            probs, boxes, gt, cls, points=pts, strides=strides, prior="center"
        )
        cost = mc.foreground_loss_cost(probs, boxes, gt, cls)
        inside = mc.center_sampling_prior(pts, gt, strides, 1.5).to_mask()
        dense = torch.where(inside, cost, torch.full_like(cost, 1e8)).double().numpy()
        r, c = linear_sum_assignment(dense)
        ref = dense[r, c].sum()
        ours = float(a.scores.double().sum()) + 1e8 * a.num_unmatched_gt
        assert ours == pytest.approx(ref, rel=1e-12, abs=1e-3)
        for g, p in zip(a.gt_inds.tolist(), a.pred_inds.tolist()):
            assert inside[g, p]


def test_anchor_rule_hand():
    pts, strides, counts = grid_points([(8, 4, 4), (16, 2, 2)])
    gt = torch.tensor(
        [[0.0, 0.0, 16.0, 16.0], [2.0, 2.0, 30.0, 30.0], [100.0, 100.0, 110.0, 110.0]]
    )
    a = mc.anchor_rule_assign(pts, gt, strides, num_points_per_level=counts, anchor_scale=2.0)
    # anchors: side 16 on level 8, side 32 on level 16.
    # gt0 (0,0,16,16) == anchor of point (8,8) on level 16? That anchor is (-8,-8,24,24): IoU 256/1024.
    # level-8 anchors of side 16 at (4,4): (-4,-4,12,12) IoU 144/368; at (12,12): (4,4,20,20) IoU 144/368 ->
    # tie -> lowest index (0). gt1 (2..30): level-16 anchor at (8,8) (-8,-8,24,24): 484/1140=0.42;
    # at (24,24) (8,8,40,40): 484/1408; level-8 (20,20): (12,12,28,28) 256/784=0.33 -> point 16
    assert a.gt_inds.tolist() == [0, 1]
    assert a.pred_inds.tolist() == [0, 16]
    assert a.num_unmatched_gt == 1
    pa = mc.point_anchors(pts, strides, 2.0)
    assert pa[16].tolist() == [-8.0, -8.0, 24.0, 24.0]


def test_center_rule_hand():
    pts, strides, counts = grid_points([(8, 4, 4), (16, 2, 2)])
    ranges = [(0, 10), (10, math.inf)]
    gt = torch.tensor([[9.0, 9.0, 17.0, 17.0], [0.0, 0.0, 30.0, 30.0], [10.0, 10.0, 16.0, 15.0]])
    a = mc.center_rule_assign(pts, gt, strides, num_points_per_level=counts, scale_ranges=ranges)
    # gt0: half-size 4 -> level 8, centre (13,13) -> nearest (12,12) = 5 (distance 1.41)
    # gt1: half 15 -> level 16, centre (15,15) -> (8,8),(24,8),(8,24),(24,24): (8,8) d=9.9 vs (24,24) 12.7 -> 16
    # gt2: half 3 -> level 8, centre (13,12.5) -> (12,12) too (d=1.12) -> conflict with gt0, gt2 closer
    assert list(zip(a.gt_inds.tolist(), a.pred_inds.tolist())) == [(1, 16), (2, 5)]
    assert a.num_unmatched_gt == 1


def test_aux_rule_hand():
    # one level of 4 points (fewer than k=9) and one level of 2 points
    pts = torch.tensor(
        [[5.0, 5.0], [15.0, 5.0], [5.0, 15.0], [15.0, 15.0], [10.0, 10.0], [30.0, 30.0]]
    )
    counts = [4, 2]
    gt = torch.tensor([[0.0, 0.0, 20.0, 20.0]])
    boxes = gt.expand(6, 4).clone()  # IoU 1 everywhere -> Q = p^0.2
    qwant = torch.tensor([0.9, 0.5, 0.1, 0.0, 0.7, 0.95])
    probs = (qwant**5)[:, None]
    a = mc.defcn_aux_assign(probs, boxes, gt, torch.tensor([0]), pts, num_points_per_level=counts)
    # all 6 are candidates: mean = 0.525, std(unbiased) = sqrt(0.80875 / 5) = 0.4022 -> thr 0.9272
    vals = qwant.double()
    thr = vals.mean() + vals.std()
    assert thr.item() == pytest.approx(0.9272, abs=1e-3)
    # 0.95 >= thr but point (30,30) is outside the gt box -> no; 0.9 < thr -> no
    assert a.gt_inds.numel() == 0
    qwant[0] = 0.99
    probs = (qwant**5)[:, None]
    a = mc.defcn_aux_assign(probs, boxes, gt, torch.tensor([0]), pts, num_points_per_level=counts)
    assert a.pred_inds.tolist() == [0]
    # two gts sharing point 0: the higher Q wins
    gt2 = torch.cat((gt, torch.tensor([[0.0, 0.0, 10.0, 10.0]])))
    boxes2 = torch.tensor([[0.0, 0.0, 10.0, 10.0]]).expand(6, 4).clone()
    a = mc.defcn_aux_assign(
        probs, boxes2, gt2, torch.tensor([0, 0]), pts, num_points_per_level=counts
    )
    assert a.labels[0].item() == 1  # IoU 1 with gt1 vs 0.25 with gt0
    # 0 gts
    e = mc.defcn_aux_assign(
        probs,
        boxes,
        torch.zeros(0, 4),
        torch.zeros(0, dtype=torch.long),
        pts,
        num_points_per_level=counts,
    )
    assert (e.labels == -1).all() and e.num_gt == 0


def test_aux_rule_random_against_reference():
    for seed in range(5):
        pts, strides, counts, _, boxes, gt, cls = random_scene(seed, 5)
        probs = torch.rand(pts.shape[0], 3, generator=torch.Generator().manual_seed(seed))
        a = mc.defcn_aux_assign(probs, boxes, gt, cls, pts, strides=strides)
        # dense reference of defcn.md §4 (all levels have >= 6 points here; use k=6)
        a = mc.defcn_aux_assign(probs, boxes, gt, cls, pts, strides=strides, topk=6)
        q = probs[:, cls].t() ** 0.2 * mc.pairwise_iou(gt, boxes) ** 0.8
        idx, start = [], 0
        for n in counts:
            idx.append(q[:, start : start + n].topk(6, dim=1).indices + start)
            start += n
        idx = torch.cat(idx, 1)
        cq = q.gather(1, idx)
        thr = cq.mean(1) + cq.std(1)
        fg = torch.full_like(q, -1.0)
        inside = mc.point_box_ltrb(pts, gt).min(2).values > 0
        for g in range(gt.shape[0]):
            for j, p in enumerate(idx[g].tolist()):
                if cq[g, j] >= thr[g] and inside[g, p]:
                    fg[g, p] = q[g, p]
        best, who = fg.max(0)
        exp = torch.where(best >= 0, who, torch.full_like(who, -1))
        assert torch.equal(a.labels, exp)


def test_uniform_hand():
    anchors = torch.tensor([[0.0, 0, 32, 32], [32, 0, 64, 32], [64, 0, 96, 32]])
    preds = torch.tensor([[0.0, 0, 32, 32], [30, 0, 62, 32], [64, 0, 96, 32]])
    gt = torch.tensor([[0.0, 0, 30, 30], [80, 10, 84, 14]])
    a = mc.uniform_assign(preds, anchors, gt, k=1)
    # rank-major pairs: [pred-top0 gt0, pred-top0 gt1, anchor-top0 gt0, anchor-top0 gt1]
    assert a.pred_inds.tolist() == [0, 2, 0, 2] and a.gt_inds.tolist() == [0, 1, 0, 1]
    # anchor IoU: gt0 900/1024 valid; gt1 16/1024 < 0.15 -> positive-ignored
    assert a.pair_valid.tolist() == [True, False, True, False]
    # pred 0 has IoU 0.88 > 0.7 (would be ignored) but is matched -> positive; anchor 2 -> ignore
    assert a.labels.tolist() == [0, -1, -2]
    assert a.num_unmatched_gt == 1 and a.num_foreground == 1
    assert a.class_targets(torch.tensor([5, 7]), 80).tolist() == [5, 80, -1]
    # gt1 = [31, 0, 62, 32]: pred 1 and anchor 1 are its nearest; nothing is left for the 0.7 rule
    gt3 = torch.tensor([[0.0, 0, 30, 30], [31, 0, 62, 32]])
    b = mc.uniform_assign(preds, anchors, gt3, k=1)
    # gt1 cxcywh (46.5,16,31,32): pred1 (46,16,32,32) d=1.5 -> pred 1; anchor 1 (48,16,32,32) d=2.5 -> anchor 1
    assert b.pred_inds.tolist() == [0, 1, 0, 1]
    assert b.labels.tolist() == [0, 1, -1]
    # last write wins for an anchor shared by a valid and a pos-ignored pair (k=2)
    c = mc.uniform_assign(preds, anchors, gt, k=2)
    P = c.pred_inds.tolist()
    last = {p: i for i, p in enumerate(P)}
    for p, i in last.items():
        exp = c.gt_inds[i].item() if c.pair_valid[i] else -2
        assert c.labels[p].item() == exp
    e = mc.uniform_assign(preds, anchors, torch.zeros(0, 4))
    assert e.labels.tolist() == [-1, -1, -1] and e.pred_inds.numel() == 0


def test_uniform_rules_read_predicted_boxes_and_anchors_as_the_reference():
    """Predicted boxes that differ from their anchors separate the three rules of yolof.md §2:
    the ranking of predicted boxes (not anchors), the positive-ignore on *anchor* IoU and the
    negative-ignore on *predicted-box* IoU. Each rule, read from the wrong boxes or left out,
    changes one of the asserted values below.

    gt [2, 0, 34, 32] (cxcywh 18, 16, 32, 32). Predicted boxes: P0 far (L1 cost 94), P1 cost 30,
    P2 = the gt (cost 0), P3 = [3, 0, 35, 32] (cost 1). Anchors A0..A3 tile x = 0..128: A0 cost 2.
    """
    anchors = torch.tensor([[0.0, 0, 32, 32], [32, 0, 64, 32], [64, 0, 96, 32], [96, 0, 128, 32]])
    preds = torch.tensor([[96.0, 0, 128, 32], [32, 0, 64, 32], [2, 0, 34, 32], [3, 0, 35, 32]])
    gt = torch.tensor([[2.0, 0, 34, 32]])
    a = mc.uniform_assign(preds, anchors, gt, k=1)
    # the predicted-box ranking picks P2 and the anchor ranking A0 (pred pairs first)
    assert a.pred_inds.tolist() == [2, 0] and a.gt_inds.tolist() == [0, 0]
    # positive-ignore on the anchor: A2 does not overlap the gt (IoU 0) although P2 equals it;
    # A0 has IoU 960 / 1088 = 0.88
    assert a.pair_valid.tolist() == [False, True]
    torch.testing.assert_close(a.scores, torch.tensor([0.0, 960 / 1088]))
    # labels: A0 positive; 1 background (P1 IoU 64 / 1984); 2 ignored (its only pair is
    # positive-ignored); 3 unmatched but P3 has IoU 992 / 1056 = 0.94 > 0.7 -> negative-ignored,
    # while anchor A3 has IoU 0 (so the rule must read the predicted box)
    assert a.labels.tolist() == [0, mc.BACKGROUND, mc.IGNORE, mc.IGNORE]
    assert a.num_foreground == 1 and a.num_unmatched_gt == 0


def test_uniform_k_larger_than_anchors():
    anchors = torch.tensor([[0.0, 0, 32, 32], [32, 0, 64, 32]])
    a = mc.uniform_assign(anchors, anchors, torch.tensor([[0.0, 0, 30, 30]]), k=4)
    assert a.pred_inds.numel() == 4  # 2 pred + 2 anchor pairs


def test_onenet_solvers():
    for seed in range(5):
        pts, strides, counts, probs, boxes, gt, cls = random_scene(seed, 6)
        c = mc.onenet_cost(probs, boxes, gt, cls, (80, 100))
        a = mc.onenet_assign(probs, boxes, gt, cls, (80, 100))
        assert a.pred_inds.tolist() == c.argmin(dim=1).tolist()
        h = mc.onenet_assign(probs, boxes, gt, cls, (80, 100), solver="hungarian")
        r, cc = linear_sum_assignment(c.numpy())
        assert float(h.scores.double().sum()) == pytest.approx(
            float(c.numpy()[r, cc].astype(np.float64).sum()), abs=1e-4
        )
        assert h.gt_inds.numel() == 6
        anchors = mc.point_anchors(pts, strides, 4.0)
        loc = mc.onenet_assign(None, anchors, gt, cls, (80, 100), weight_class=0.0)
        assert loc.pred_inds.numel() == 6


def test_zero_gts_everywhere():
    pts, strides, counts, probs, boxes, _, _ = random_scene(0, 0)
    gt = torch.zeros(0, 4)
    cls = torch.zeros(0, dtype=torch.long)
    R = pts.shape[0]
    outs = [
        mc.poto_assign(probs, boxes, gt, cls, points=pts, strides=strides),
        mc.poto_assign(probs, boxes, gt, cls, points=pts, strides=strides, solver="argmax"),
        mc.poto_assign(probs, boxes, gt, cls, points=pts, prior="global"),
        mc.foreground_loss_assign(probs, boxes, gt, cls, points=pts, strides=strides),
        mc.anchor_rule_assign(pts, gt, strides),
        mc.center_rule_assign(
            pts, gt, strides, num_points_per_level=counts, scale_ranges=[(0, 64)] * 3
        ),
        mc.defcn_aux_assign(probs, boxes, gt, cls, pts, strides=strides),
        mc.onenet_assign(probs, boxes, gt, cls, (80, 100)),
        mc.onenet_assign(probs, boxes, gt, cls, (80, 100), solver="hungarian"),
        mc.uniform_assign(boxes, boxes, gt),
        mc.fcos_assign(pts, gt, strides, scale_ranges=None),
        mc.atss_assign(boxes, gt, counts),
        mc.max_iou_assign(boxes, gt),
    ]
    for a in outs:
        assert a.labels.shape == (R,) and (a.labels == -1).all() and a.gt_inds.numel() == 0
        assert a.matched_pred_per_gt().numel() == 0
    assert len(mc.center_sampling_prior(pts, gt, strides)) == 0


def test_single_prediction():
    pts = torch.tensor([[8.0, 8.0]])
    boxes = torch.tensor([[0.0, 0, 16, 16]])
    probs = torch.tensor([[0.5]])
    gt = torch.tensor([[0.0, 0, 16, 16], [2.0, 2, 14, 14]])
    cls = torch.tensor([0, 0])
    a = mc.poto_assign(
        probs, boxes, gt, cls, points=pts, strides=torch.tensor([8.0]), prior="inside"
    )
    assert a.gt_inds.numel() == 1 and a.num_unmatched_gt == 1
    # gt0: IoU 1 -> Q = 0.5^0.2 = 0.87; gt1: IoU 144/256 -> smaller Q; gt0 takes the only point
    assert a.gt_inds.item() == 0 and a.scores.item() == pytest.approx(0.5**0.2, rel=1e-6)


def test_fp16_inputs():
    pts, strides, counts, probs, boxes, gt, cls = random_scene(5, 8)
    a32 = mc.poto_assign(probs, boxes, gt, cls, points=pts, strides=strides)
    a16 = mc.poto_assign(
        probs.half(), boxes.half(), gt.half(), cls, points=pts.half(), strides=strides.half()
    )
    assert a16.scores.dtype == torch.float32
    assert a16.gt_inds.tolist() == a32.gt_inds.tolist()
    assert float(a16.scores.sum()) == pytest.approx(float(a32.scores.sum()), rel=2e-2)
    u = mc.uniform_assign(boxes.half(), boxes.half(), gt.half())
    assert u.labels.shape == (pts.shape[0],)
    o = mc.onenet_assign(probs.half(), boxes.half(), gt.half(), cls, (80, 100), solver="hungarian")
    assert o.gt_inds.numel() == 8


def test_per_image_batching():
    scenes = [random_scene(s, G) for s, G in [(1, 3), (2, 0), (3, 5)]]
    pts, strides = scenes[0][0], scenes[0][1]
    outs = mc.per_image(
        mc.poto_assign,
        [s[3] for s in scenes],
        [s[4] for s in scenes],
        [s[5] for s in scenes],
        [s[6] for s in scenes],
        points=pts,
        strides=strides,
        prior="center",
    )
    assert [o.num_gt for o in outs] == [3, 0, 5]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_same_as_cpu():
    pts, strides, counts, probs, boxes, gt, cls = random_scene(7, 10)
    a = mc.poto_assign(probs, boxes, gt, cls, points=pts, strides=strides)
    dev = [t.cuda() for t in (probs, boxes, gt, cls, pts, strides)]
    b = mc.poto_assign(dev[0], dev[1], dev[2], dev[3], points=dev[4], strides=dev[5])
    assert b.labels.is_cuda
    assert float(b.scores.sum().cpu()) == pytest.approx(float(a.scores.sum()), abs=1e-5)
    c = mc.defcn_aux_assign(dev[0], dev[1], dev[2], dev[3], dev[4], strides=dev[5])
    assert c.labels.is_cuda
    u = mc.uniform_assign(dev[1], dev[1], dev[2])
    assert u.labels.is_cuda
