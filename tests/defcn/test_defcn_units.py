"""DeFCN pieces against hand-computed cases and the paper's equations."""

import math

import pytest
import torch
import torch.nn.functional as F
from fvcore.nn import sigmoid_focal_loss_jit

from d2dense.modeling import keep_local_maxima_3d, max_filter_3d
from defcn import DeFCNAssigner, MaxFiltering3D
from defcn.modeling import product_sigmoid_focal_loss


def reference_3dmf(features, k, tau):
    """Eq. 5-6 the literal way: resize neighbours, stack along depth, MaxPool3d with -inf padding."""
    out = []
    m = tau // 2
    for s, x in enumerate(features):
        tube = [
            (
                F.interpolate(features[j], size=x.shape[-2:], mode="bilinear", align_corners=False)
                if j != s
                else x
            )
            for j in range(s - m, s + m + 1)
            if 0 <= j < len(features)
        ]
        vol = torch.stack(tube, dim=2)  # N, C, D, H, W
        pooled = F.max_pool3d(vol, (len(tube), k, k), stride=1, padding=(0, k // 2, k // 2))
        out.append(pooled[:, :, 0])
    return out


@pytest.mark.parametrize("k,tau", [(1, 0), (3, 0), (3, 2), (5, 2), (3, 4), (5, 4)])
def test_max_filter_3d_equals_maxpool3d(k, tau):
    torch.manual_seed(0)
    feats = [torch.randn(2, 3, 20 // 2**i + 1, 27 // 2**i + 1) for i in range(5)]
    for got, want in zip(max_filter_3d(feats, k, tau), reference_3dmf(feats, k, tau)):
        torch.testing.assert_close(got, want)


def test_max_filter_3d_hand_case():
    # Two levels, 1 channel. Level 0 is 4x4 zeros with a 5 at (1, 1); level 1 is 2x2 with a 9 at
    # (1, 1). Bilinear upsampling (align_corners=False) maps output row i to input row
    # (i + 0.5) / 2 - 0.5, i.e. weights 0, 0.25, 0.75, 1 of the 9 along each axis, so the resized
    # level 1 holds 9 * 0.75 * 0.75 = 5.0625 at (2, 2) and 9 at (3, 3).
    l0 = torch.zeros(1, 1, 4, 4)
    l0[0, 0, 1, 1] = 5.0
    l1 = torch.zeros(1, 1, 2, 2)
    l1[0, 0, 1, 1] = 9.0
    y0, y1 = max_filter_3d([l0, l1], kernel_size=3, tau=2)
    assert y0[0, 0, 3, 3] == 9.0
    assert y0[0, 0, 1, 1] == 5.0625  # its 3x3 window reaches (2, 2) of the resized level 1
    assert y0[0, 0, 0, 0] == 5.0  # window rows/cols 0-1: own 5 beats 9 * 0.25 * 0.25
    assert y0[0, 0, 3, 0] == 2.25  # window rows 2-3, cols 0-1: only the resized 9 * 1 * 0.25
    # level 1 sees level 0 bilinearly downsampled (the 5 averages away) and its own 9 everywhere
    assert torch.all(y1 == 9.0)
    # tau = 0 is 2D max filtering: no cross-level information
    z0, _ = max_filter_3d([l0, l1], kernel_size=3, tau=0)
    assert z0.max() == 5.0 and z0[0, 0, 3, 3] == 0.0


def test_keep_local_maxima_3d():
    l0 = torch.tensor([[[[0.1, 0.9, 0.8], [0.2, 0.3, 0.1], [0.0, 0.0, 0.7]]]])
    (kept,) = keep_local_maxima_3d([l0], kernel_size=3, tau=0)
    # 0.9 is the max of every window containing it; 0.7 at (2,2) sees 0.3 only -> local max too
    expected = torch.zeros_like(l0)
    expected[0, 0, 0, 1] = 0.9
    expected[0, 0, 2, 2] = 0.7
    torch.testing.assert_close(kept, expected)


def test_3dmf_module_residual_and_shapes():
    torch.manual_seed(0)
    m = MaxFiltering3D(32, kernel_size=3, tau=2, norm="GN")
    feats = [torch.randn(2, 32, s, s + 1) for s in (16, 8, 4, 2, 1)]
    out = m(feats)
    assert [o.shape for o in out] == [f.shape for f in feats]
    assert all((o >= 0).all() for o in out)  # ends in ReLU
    # the residual: with the conv zeroed, output = ReLU(GN(maxfilter(0) + x)) = ReLU(GN(x))
    torch.nn.init.zeros_(m.conv.weight)
    torch.nn.init.zeros_(m.conv.bias)
    for o, f in zip(m(feats), feats):
        torch.testing.assert_close(o, F.relu(m.norm(f)))


def test_product_focal_loss_matches_logit_focal_loss():
    # filter logit +inf -> sigmoid(filter) = 1: the product loss must equal the usual focal loss
    torch.manual_seed(0)
    logits = torch.randn(50, 7) * 3
    targets = (torch.rand(50, 7) > 0.8).float()
    want = sigmoid_focal_loss_jit(logits, targets, alpha=0.25, gamma=2.0, reduction="sum")
    got = product_sigmoid_focal_loss(logits, torch.full((50, 1), 40.0), targets)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_product_focal_loss_value_hand_case():
    # p = sigmoid(0) * sigmoid(0) = 0.25, positive target: alpha (1-p)^2 (-log p)
    loss = product_sigmoid_focal_loss(torch.zeros(1, 1), torch.zeros(1, 1), torch.ones(1, 1))
    assert math.isclose(float(loss), 0.25 * 0.75**2 * math.log(4), rel_tol=1e-6)
    # negative target: (1 - alpha) p^2 (-log(1 - p))
    loss = product_sigmoid_focal_loss(torch.zeros(1, 1), torch.zeros(1, 1), torch.zeros(1, 1))
    assert math.isclose(float(loss), 0.75 * 0.25**2 * -math.log(0.75), rel_tol=1e-6)


def test_product_focal_loss_keeps_gradients_when_saturated():
    # a hard positive with p ~ 1e-7 must still be pushed up (clamping p would give 0 gradient)
    cls = torch.tensor([[-12.0]], requires_grad=True)
    flt = torch.tensor([[-4.0]], requires_grad=True)
    loss = product_sigmoid_focal_loss(cls, flt, torch.ones(1, 1))
    loss.backward()
    assert torch.isfinite(loss)
    assert cls.grad.item() < -0.2 and flt.grad.item() < -0.2
    # a saturated false positive (p ~ 1) keeps a finite, positive gradient
    cls = torch.tensor([[30.0]], requires_grad=True)
    loss = product_sigmoid_focal_loss(cls, torch.tensor([[30.0]]), torch.zeros(1, 1))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(cls.grad).all()


def _grid_points(h, w, stride):
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    return torch.stack([(xs.flatten() + 0.5) * stride, (ys.flatten() + 0.5) * stride], dim=1)


def test_poto_assignment_hand_case():
    """One level, stride 8, 4x4 points; two gts. The predicted boxes make point 5 the best IoU for
    gt 0 and point 10 for gt 1, but gt 1's class probability is higher at point 5 with a mediocre
    box. With alpha = 0.8, Q = p^0.2 IoU^0.8 (Eq. 4) decides; the result must equal brute force."""
    points = _grid_points(4, 4, 8)
    strides = torch.full((16,), 8.0)
    gt = torch.tensor([[4.0, 4.0, 20.0, 20.0], [12.0, 12.0, 30.0, 30.0]])
    gt_classes = torch.tensor([0, 1])
    pred = torch.tensor([[0.0, 0.0, 1.0, 1.0]]).repeat(16, 1)
    pred[5] = gt[0]  # perfect box for gt 0
    pred[10] = gt[1]  # perfect box for gt 1
    probs = torch.full((16, 2), 0.01)
    probs[5] = torch.tensor([0.5, 0.9])
    probs[10] = torch.tensor([0.1, 0.4])
    assigner = DeFCNAssigner(method="poto", spatial_prior="global", alpha=0.8)
    res = assigner(
        points=points,
        strides=strides,
        num_points_per_level=[16],
        scores=probs,
        pred_boxes=pred,
        gt_boxes=gt,
        gt_classes=gt_classes,
    )
    assert res.labels[5] == 0 and res.labels[10] == 1 and res.num_foreground == 2
    # brute force over all point pairs
    from matchcost import pairwise_iou

    iou = pairwise_iou(gt, pred)
    q = probs[:, gt_classes].t() ** 0.2 * iou**0.8
    best = max((q[0, i] + q[1, j], i, j) for i in range(16) for j in range(16) if i != j)
    assert (best[1], best[2]) == (5, 10)
    assert math.isclose(float(q[0, 5]), 0.5**0.2, rel_tol=1e-5)


def test_assigner_rejects_unknown_or_ignored_options():
    with pytest.raises(ValueError, match="method"):
        DeFCNAssigner(method="poto2")
    with pytest.raises(ValueError, match="alpha"):
        DeFCNAssigner(alpha=1.5)
    # an override the chosen rule would silently ignore is an error naming the key
    with pytest.raises(ValueError, match="model.assigner.spatial_prior"):
        DeFCNAssigner(method="anchor", spatial_prior="inside")
    with pytest.raises(ValueError, match="model.assigner.solver"):
        DeFCNAssigner(method="fg_loss", solver="argmax")


class _RecordingAssigner:
    """Wraps a DeFCNAssigner and records the scores the model hands to each rule."""

    def __init__(self, assigner):
        self.assigner, self.scores = assigner, {}

    def __call__(self, **kwargs):
        self.scores["main"] = kwargs["scores"].clone()
        return self.assigner(**kwargs)

    def auxiliary(self, **kwargs):
        self.scores["aux"] = kwargs["scores"].clone()
        return self.assigner.auxiliary(**kwargs)


@pytest.mark.parametrize("use_3dmf", [True, False])
def test_model_feeds_poto_the_final_score_and_aux_the_coarse_score(use_3dmf):
    """POTO's quality reads the score the detector ranks by at test time, sigmoid(cls) *
    sigmoid(filter) with 3DMF (Sec. 3.2.2), and sigmoid(cls) without; the aux rule reads the coarse
    sigmoid(cls) it trains (Sec. 3.2.3)."""
    from detectron2.structures import Boxes
    from detectron2.utils.events import EventStorage

    from helpers import build_model, make_instances

    model = build_model(
        "DeFCN/poto_3dmf_aux_R_50_FPN_3x.py",
        overrides=["model.num_classes=3", f"model.head.use_3dmf={use_3dmf}"],
    )
    recorder = _RecordingAssigner(model.assigner)
    model.assigner = recorder
    features = [torch.zeros(1, 1, 8 // 2**i, 12 // 2**i) for i in range(3)]
    anchors = model.anchor_generator(features)
    num_points = [len(a) for a in anchors]
    anchors = Boxes.cat(anchors)
    gen = torch.Generator().manual_seed(0)
    R = len(anchors)
    logits = torch.randn(1, R, 3, generator=gen)
    filters = torch.randn(1, R, 1, generator=gen) if use_3dmf else None
    deltas = torch.rand(1, R, 4, generator=gen) * 2
    gt = make_instances(64, 96, [[4, 4, 40, 50], [50, 10, 90, 60]], [2, 0])
    with EventStorage():
        model.label_points(anchors, num_points, logits, deltas, filters, [gt])
    expected = logits[0].sigmoid() * (filters[0].sigmoid() if use_3dmf else 1.0)
    torch.testing.assert_close(recorder.scores["main"], expected)
    torch.testing.assert_close(recorder.scores["aux"], logits[0].sigmoid())
