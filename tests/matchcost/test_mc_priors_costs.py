"""Hand-computed cases for every prior and cost, and randomised checks of the sparse enumeration."""

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import matchcost as mc

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


def grid_points(levels, offset=0.5):
    """levels: list of (stride, H, W) -> points (R, 2), strides (R,), counts."""
    pts, strides, counts = [], [], []
    for s, H, W in levels:
        ys, xs = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
        pts.append(
            torch.stack(((xs.reshape(-1) + offset) * s, (ys.reshape(-1) + offset) * s), 1).float()
        )
        strides.append(torch.full((H * W,), float(s)))
        counts.append(H * W)
    return torch.cat(pts), torch.cat(strides), counts


# two levels: stride 8 on 4x4 -> points (4..28); stride 16 on 2x2 -> (8, 24)
PTS, STR, CNT = grid_points([(8, 4, 4), (16, 2, 2)])


def cand_list(c: mc.Candidates):
    return list(zip(c.gt.tolist(), c.pred.tolist()))


def test_center_sampling_hand():
    gt = torch.tensor([[0.0, 0.0, 20.0, 20.0]])
    c = mc.center_sampling_prior(PTS, gt, STR, 1.5, num_points_per_level=CNT)
    # level 8: region [0,0,20,20] -> x,y in {4,12}; level 16: -> (8,8)
    assert cand_list(c) == [(0, 0), (0, 1), (0, 4), (0, 5), (0, 16)]
    c = mc.center_sampling_prior(PTS, gt, STR, 0.5)  # levels inferred from strides
    # level 8: region [6,6,14,14] -> (12,12) = 5; level 16: [2,2,18,18] -> (8,8) = 16
    assert cand_list(c) == [(0, 5), (0, 16)]


def test_inside_box_strict_edges():
    gt = torch.tensor([[4.0, 4.0, 20.0, 20.0], [100.0, 100.0, 120.0, 120.0]])
    c = mc.inside_box_prior(PTS, gt, strides=STR)
    # x=4 lies on the edge -> outside (strict); second box contains no point
    assert cand_list(c) == [(0, 5), (0, 16)]
    c0 = mc.center_sampling_prior(PTS, gt, STR, 0.0, num_points_per_level=CNT)
    assert cand_list(c0) == cand_list(c)


def test_scale_ranges_hand():
    gt = torch.tensor([[0.0, 0.0, 20.0, 20.0]])
    c = mc.center_sampling_prior(
        PTS, gt, STR, 1.5, num_points_per_level=CNT, scale_ranges=[(0, 10), (10, math.inf)]
    )
    # level-8 candidates have max ltrb 16 or 12 > 10; (8,8) on level 16 has max ltrb 12 in [10, inf]
    assert cand_list(c) == [(0, 16)]


def test_fcos_assign_min_area():
    gts = torch.tensor([[0.0, 0.0, 30.0, 30.0], [0.0, 0.0, 18.0, 18.0]])
    a = mc.fcos_assign(
        PTS, gts, STR, num_points_per_level=CNT, scale_ranges=[(0, 64), (64, math.inf)]
    )
    cands = mc.fcos_prior(
        PTS, gts, STR, num_points_per_level=CNT, scale_ranges=[(0, 64), (64, math.inf)]
    )
    shared = set(p for g, p in cand_list(cands) if g == 0) & set(
        p for g, p in cand_list(cands) if g == 1
    )
    assert shared  # the boxes overlap
    for p in shared:
        assert a.labels[p] == 1  # smaller box wins
    assert (a.labels >= 0).sum() == len(set(cands.pred.tolist()))


@st.composite
def point_sets(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    kind = draw(st.sampled_from(["grid", "holes", "shuffled", "dupes", "random"]))
    rng = np.random.default_rng(seed)
    H, W, s = rng.integers(1, 7), rng.integers(1, 7), float(rng.choice([4, 8, 16]))
    ys, xs = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
    pts = np.stack(((xs.reshape(-1) + 0.5) * s, (ys.reshape(-1) + 0.5) * s), 1)
    if kind == "holes":
        pts = pts[rng.random(len(pts)) < 0.7]
    elif kind == "shuffled":
        pts = pts[rng.permutation(len(pts))]
    elif kind == "dupes":
        pts = np.repeat(pts, 2, axis=0)
    elif kind == "random":
        pts = rng.random((rng.integers(1, 30), 2)) * s * 6
    G = int(rng.integers(0, 6))
    xy0 = rng.uniform(-10, s * 6, size=(G, 2))
    wh = rng.uniform(0, s * 4, size=(G, 2))
    # some boxes start exactly on grid coordinates (edge cases of the strict test)
    if G and rng.random() < 0.5:
        xy0[0] = np.floor(xy0[0] / s) * s + 0.5 * s
    boxes = np.concatenate((xy0, xy0 + wh), 1)
    return torch.tensor(pts, dtype=torch.float32), torch.tensor(boxes, dtype=torch.float32), s


@settings(max_examples=200, **SETTINGS)
@given(point_sets(), st.sampled_from([0.0, 0.5, 1.5]))
def test_sparse_enumeration_equals_dense(ps, radius):
    pts, boxes, s = ps
    strides = torch.full((pts.shape[0],), s)
    c = mc.center_sampling_prior(pts, boxes, strides, radius)
    # dense reference (defcn.md §3.4)
    if radius > 0:
        ctr = mc.box_centers(boxes)
        reg = torch.stack(
            (
                torch.maximum(ctr[:, 0] - radius * s, boxes[:, 0]),
                torch.maximum(ctr[:, 1] - radius * s, boxes[:, 1]),
                torch.minimum(ctr[:, 0] + radius * s, boxes[:, 2]),
                torch.minimum(ctr[:, 1] + radius * s, boxes[:, 3]),
            ),
            1,
        )
    else:
        reg = boxes
    dense = mc.point_box_ltrb(pts, reg).min(dim=2).values > 0
    assert torch.equal(c.to_mask(), dense)
    assert cand_list(c) == sorted(cand_list(c))


def test_atss_hand():
    # 3x3 grid stride 10, one anchor of side 10 per location; plus a 1-anchor level (fewer than k)
    pts, _, _ = grid_points([(10, 3, 3)])
    anchors = torch.cat((pts - 5, pts + 5), dim=1)
    anchors = torch.cat((anchors, torch.tensor([[100.0, 100.0, 140.0, 140.0]])))
    gt = torch.tensor([[0.0, 0.0, 20.0, 20.0]])
    c, iou = mc.atss_prior(anchors, gt, [9, 1], topk=4, return_iou=True)
    # level 0: 4 anchors at distance 7.07 (IoU 0.25 each); level 1: the single far anchor (IoU 0)
    # mean = 0.2, std(unbiased) = sqrt((4*0.05^2 + 0.2^2)/4) = 0.1118 -> thr 0.3118 > 0.25 -> no positive
    assert len(c) == 0
    c = mc.atss_prior(anchors[:9], gt, [9], topk=4)
    # only the 4 equal candidates: std 0 -> thr 0.25, all inside -> positives 0, 1, 3, 4
    assert cand_list(c) == [(0, 0), (0, 1), (0, 3), (0, 4)]
    c = mc.atss_prior(anchors[:9], gt, [9], topk=100)  # k > points on level
    assert set(p for _, p in cand_list(c)) <= {0, 1, 3, 4}
    a = mc.atss_assign(
        anchors[:9], torch.cat((gt, torch.tensor([[0.0, 0.0, 12.0, 12.0]]))), [9], topk=4
    )
    # anchor 0 (0,0,10,10): IoU 0.25 with gt0, 100/144 with gt1 -> gt1 wins
    assert a.labels[0] == 1
    e = mc.atss_assign(anchors, torch.zeros(0, 4), [9, 1])
    assert (e.labels == -1).all()


def test_atss_needs_the_anchor_centre_inside_the_gt():
    """An anchor above the IoU threshold whose centre lies outside the gt is not a positive.

    gt [0, 0, 10, 10]; A0 = [0, 2, 10, 22] (IoU 80 / 220 = 0.364, centre y = 12: outside),
    A1 = [0, 2, 10, 12] (IoU 80 / 120 = 0.667, centre inside), eight far anchors (IoU 0). With
    k = 10 every anchor is a candidate: threshold = mean + std = 0.103 + 0.229 = 0.332, which both
    A0 and A1 pass; only A1 has its centre inside."""
    far = torch.tensor([[100.0 + 20 * i, 100.0, 110.0 + 20 * i, 110.0] for i in range(8)])
    anchors = torch.cat((torch.tensor([[0.0, 2, 10, 22], [0.0, 2, 10, 12]]), far))
    gt = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    ious = torch.tensor([80 / 220, 80 / 120] + [0.0] * 8)
    thr = ious.mean() + ious.std()
    assert ious[0] >= thr and ious[1] >= thr  # both pass the IoU rule
    c, iou = mc.atss_prior(anchors, gt, [10], topk=10, return_iou=True)
    assert cand_list(c) == [(0, 1)]
    torch.testing.assert_close(iou, torch.tensor([80 / 120]))


def test_max_iou_hand():
    anchors = torch.tensor(
        [[0.0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [100, 100, 110, 110]]
    )
    gt = torch.tensor([[0.0, 0, 10, 10], [21, 21, 29, 29]])
    a = mc.max_iou_assign(anchors, gt)
    # a0 IoU 1 -> gt0; a1 IoU 50/150 = 0.33 < 0.4 -> bg; a2 IoU 64/100 = 0.64 -> gt1; a3 bg
    assert a.labels.tolist() == [0, -1, 1, -1]
    gt2 = torch.tensor([[0.0, 0, 10, 10], [6, 0, 16, 10]])
    a = mc.max_iou_assign(anchors, gt2)
    # a1 vs gt1: 90/110 = 0.818 -> fg; nothing ignored
    assert a.labels.tolist() == [0, 1, -1, -1]
    gt3 = torch.tensor([[3.0, 0, 13, 10]])  # a0: 70/130=0.54, a1: 80/120 = 0.667
    a = mc.max_iou_assign(anchors, gt3, pos_thresh=0.7, neg_thresh=0.6)
    # a0 ignored (0.6 <= 0.54? no -> bg); a1 below 0.7 but the gt's best -> low-quality positive
    assert a.labels.tolist() == [-1, 0, -1, -1]
    a = mc.max_iou_assign(anchors, gt3, pos_thresh=0.7, neg_thresh=0.5, allow_low_quality=False)
    assert a.labels.tolist() == [-2, -2, -1, -1]


# ---------------------------------------------------------------- costs
def test_poto_quality_values():
    p, iou = torch.tensor([0.5, 0.0, 1.0]), torch.tensor([0.25, 0.7, 1.0])
    q = mc.combine_quality(p, iou, 0.8, "mul")
    assert q.tolist() == pytest.approx([0.5**0.2 * 0.25**0.8, 0.0, 1.0])
    q = mc.combine_quality(p, iou, 0.8, "add")
    assert q.tolist() == pytest.approx([0.2 * 0.5 + 0.8 * 0.25, 0.56, 1.0])


def test_poto_quality_sparse_equals_dense():
    torch.manual_seed(0)
    probs = torch.rand(30, 5)
    pb = torch.rand(30, 4) * 50
    pb[:, 2:] += pb[:, :2]
    gt = torch.tensor([[0.0, 0, 30, 30], [10, 10, 60, 40]])
    cls = torch.tensor([3, 1])
    dense = mc.poto_quality(probs, pb, gt, cls)
    cand = mc.Candidates.from_mask(torch.rand(2, 30) < 0.5)
    sp = mc.poto_quality(probs, pb, gt, cls, cand)
    assert torch.allclose(dense[cand.gt, cand.pred], sp)
    assert dense[1, 7] == pytest.approx(
        probs[7, 1].item() ** 0.2 * mc.pairwise_iou(gt[1:2], pb[7:8]).item() ** 0.8, rel=1e-5
    )


def test_focal_costs_values():
    p = 0.3
    probs = torch.tensor([[0.1, p, 0.8]])
    cls = torch.tensor([1])
    a, g = 0.25, 2.0
    exp = a * (1 - p) ** g * -math.log(p + 1e-8) - (1 - a) * p**g * -math.log(1 - p + 1e-8)
    assert mc.focal_class_cost(probs, cls).item() == pytest.approx(exp, rel=1e-5)
    # sum over classes of the sigmoid focal loss with one-hot target
    tot = 0.0
    for k, pk in enumerate([0.1, p, 0.8]):
        if k == 1:
            tot += a * (1 - pk) ** g * -math.log(pk + 1e-8)
        else:
            tot += (1 - a) * pk**g * -math.log(1 - pk + 1e-8)
    assert mc.focal_loss_cost(probs, cls).item() == pytest.approx(tot, rel=1e-5)


def test_box_costs_values():
    a = torch.tensor([[0.0, 0, 2, 2]])
    b = torch.tensor([[1.0, 1, 3, 3]])
    assert mc.pairwise_iou(a, b).item() == pytest.approx(1 / 7)
    assert mc.pairwise_giou(a, b).item() == pytest.approx(1 / 7 - 2 / 9)
    assert mc.giou_cost(b, a).item() == pytest.approx(-(1 / 7 - 2 / 9))
    assert mc.elementwise_giou(a, b).item() == pytest.approx(1 / 7 - 2 / 9)
    assert mc.pairwise_iou(a, torch.tensor([[2.0, 2, 4, 4]])).item() == 0.0  # touching
    assert mc.l1_cost(b, a).item() == pytest.approx(4.0)
    assert mc.l1_cost(b, a, normalizer=(2, 4, 2, 4)).item() == pytest.approx(
        0.5 + 0.25 + 0.5 + 0.25
    )
    # cxcywh: (1,1,2,2) vs (2,2,2,2) -> 2; vs a (1,1,4,2)-sized box
    c = torch.tensor([[0.0, 0, 4, 2]])
    assert mc.cxcywh_l1_cost(c, a).item() == pytest.approx(1 + 0 + 2 + 0)
    assert mc.center_distance(torch.tensor([[4.0, 5.0]]), a).item() == pytest.approx(5.0)
    # degenerate boxes: no NaN
    z = torch.tensor([[5.0, 5, 5, 5]])
    assert torch.isfinite(mc.pairwise_giou(z, z)).all()
    assert torch.isfinite(mc.pairwise_iou(z, z)).all()


def test_onenet_cost_manual():
    torch.manual_seed(1)
    probs = torch.rand(6, 3)
    pb = torch.rand(6, 4) * 40
    pb[:, 2:] += pb[:, :2] + 1
    gt = torch.tensor([[2.0, 3, 20, 30], [10, 5, 40, 25]])
    cls = torch.tensor([2, 0])
    h, w = 50, 80
    c = mc.onenet_cost(probs, pb, gt, cls, (h, w))
    norm = torch.tensor([w, h, w, h], dtype=torch.float32)
    l1 = (gt[:, None] / norm - pb[None] / norm).abs().sum(-1)
    exp = 5 * l1 + 2 * mc.focal_class_cost(probs, cls) - 2 * mc.pairwise_giou(gt, pb)
    assert torch.allclose(c, exp, atol=1e-5)
    c0 = mc.onenet_cost(None, pb, gt, cls, (h, w), weight_class=0.0)
    assert torch.allclose(c0, 5 * l1 - 2 * mc.pairwise_giou(gt, pb), atol=1e-5)


def test_fp16_costs():
    probs = torch.rand(10, 3).half()
    pb = (torch.rand(10, 4) * 1000).half()
    pb[:, 2:] += pb[:, :2]
    gt = torch.tensor([[0.0, 0, 900, 900]]).half()
    q = mc.poto_quality(probs, pb, gt, torch.tensor([1]))
    assert q.dtype == torch.float32 and torch.isfinite(q).all()
    assert mc.pairwise_giou(gt, pb).dtype == torch.float32


def test_fpn_level_prior_every_point_of_the_gt_level():
    # max(w, h) / 2: 20 -> P3 [0, 64]; 100 -> P4 [64, 128]; 64 is inclusive in P3 (first range wins)
    gt = torch.tensor([[0.0, 0, 40, 10], [0, 0, 200, 50], [0, 0, 128, 128]])
    assert mc.gt_fpn_levels(gt).tolist() == [0, 1, 0]
    cand = mc.fpn_level_prior(gt, [6, 3, 2, 1, 1])
    assert cand.gt.tolist() == [0] * 6 + [1] * 3 + [2] * 6
    assert cand.pred.tolist() == list(range(6)) + [6, 7, 8] + list(range(6))
    assert (cand.num_gt, cand.num_pred) == (3, 13)
    # a level without points gives its gts no candidate; 0 gts give none
    assert len(mc.fpn_level_prior(gt[1:2], [6, 0, 2, 1, 1])) == 0
    assert len(mc.fpn_level_prior(torch.zeros(0, 4), [6, 3, 2, 1, 1])) == 0
    with pytest.raises(ValueError, match="scale ranges"):
        mc.fpn_level_prior(gt, [6, 3])
