"""d2dense.modeling.LinearBoxCoder: detectron2's ltrb decoding, plus an optional straight-through
gradient below zero that revives a "dead" side (observed when training one-to-one FCOS from
scratch, see d2dense/modeling/box_regression.py)."""

import pytest
import torch
from detectron2.modeling.box_regression import Box2BoxTransformLinear

from d2dense.modeling import LinearBoxCoder, relu_with_negative_grad
from helpers import load_config


def _inputs(k=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    centers = torch.rand(50, 2, generator=g) * 300
    sizes = torch.randint(1, 5, (50, 1), generator=g).float() * 8
    anchors = torch.cat([centers - sizes / 2, centers + sizes / 2], dim=1)
    deltas = torch.randn(50, 4 * k, generator=g) * 3  # about half of them negative
    return deltas, anchors


# k > 1 boxes per row only without size normalisation: detectron2's own decoding supports no other
@pytest.mark.parametrize("normalize_by_size,k", [(True, 1), (False, 1), (False, 3)])
@pytest.mark.parametrize("slope", [0.0, 1.0])
def test_same_boxes_as_detectron2(normalize_by_size, slope, k):
    deltas, anchors = _inputs(k)
    expected = Box2BoxTransformLinear(normalize_by_size).apply_deltas(deltas, anchors)
    coder = LinearBoxCoder(normalize_by_size, negative_grad_slope=slope)
    torch.testing.assert_close(coder.apply_deltas(deltas.requires_grad_(), anchors), expected)
    with torch.no_grad():
        torch.testing.assert_close(coder.apply_deltas(deltas, anchors), expected)
    # every decoded box is valid (x2 >= x1, y2 >= y1), negative outputs included
    boxes = expected.view(50, k, 4)
    assert (boxes[..., 2] >= boxes[..., 0]).all() and (boxes[..., 3] >= boxes[..., 1]).all()


@pytest.mark.parametrize("slope", [0.0, 1.0])
def test_no_boxes(slope):
    """Images without objects decode no positive: (0, 4) in, (0, 4) out, with a gradient path."""
    deltas = torch.zeros(0, 4, requires_grad=True)
    out = LinearBoxCoder(True, negative_grad_slope=slope).apply_deltas(deltas, torch.zeros(0, 4))
    assert out.shape == (0, 4)
    out.sum().backward()
    assert deltas.grad.shape == (0, 4)


def test_gradient_below_zero_is_the_slope_times_the_upstream_gradient():
    x = torch.tensor([-2.0, -0.5, 0.5, 3.0], requires_grad=True)
    y = relu_with_negative_grad(x, 0.25)
    assert torch.equal(y.detach(), torch.relu(x.detach()))
    y.backward(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    assert torch.equal(x.grad, torch.tensor([0.25, 0.5, 3.0, 4.0]))


def _train_right_side(slope, steps=50):
    """One box regressed from its anchor point, with the right side's raw output started dead
    (negative): detectron2's ReLU never moves it, the straight-through gradient brings it back."""
    anchor = torch.tensor([[96.0, 96.0, 104.0, 104.0]])  # a stride-8 point at (100, 100)
    target = torch.tensor([[60.0, 40.0, 140.0, 160.0]])  # ltrb = (5, 7.5, 5, 7.5) strides
    raw = torch.tensor([[1.0, 1.0, -0.5, 1.0]], requires_grad=True)
    coder = LinearBoxCoder(normalize_by_size=True, negative_grad_slope=slope)
    opt = torch.optim.SGD([raw], lr=0.05)
    for _ in range(steps):
        opt.zero_grad()
        loss = (coder.apply_deltas(raw, anchor) - target).abs().sum()
        loss.backward()
        opt.step()
    return raw.detach()[0]


def test_a_dead_side_stays_dead_with_relu_and_recovers_with_the_slope():
    relu = _train_right_side(0.0)
    assert relu[2] == -0.5  # no gradient ever reached it
    assert relu[0] > 1.0  # the live sides learn
    revived = _train_right_side(1.0)
    assert revived[2] > 1.0
    with pytest.raises(ValueError, match="negative_grad_slope"):
        LinearBoxCoder(negative_grad_slope=-1)


def test_cpu_variant_uses_the_slope_and_paper_configs_the_reference_relu():
    paper = load_config("OneNet/fcos_o2o_loc_R_50_FPN_3x.py", scale="paper")
    cpu = load_config("OneNet/fcos_o2o_loc_R_50_FPN_3x.py", scale="cpu")
    assert paper.model.box2box_transform.negative_grad_slope == 0.0
    assert cpu.model.box2box_transform.negative_grad_slope == 1.0


def test_fcos_warns_when_a_box_side_is_dead_at_every_positive(caplog):
    """detectron2's FCOS decoding has no gradient below zero: a side <= 0 at every positive is
    dead, its boxes empty and dropped at inference (AP 0 with no error), so training says so."""
    import logging

    from detectron2.utils import logger as d2_logger
    from detectron2.utils.events import EventStorage

    from helpers import build_model, make_instances

    model = build_model("Baselines/fcos_wo_ctr_R_50_FPN_3x.py", "cpu", ["model.num_classes=2"])
    batch = [
        {"image": torch.rand(3, 128, 160) * 255, "instances": make_instances(128, 160, b, [0, 1])}
        for b in ([[10, 10, 90, 100], [60, 20, 150, 120]], [[5, 30, 70, 120], [80, 0, 160, 64]])
    ]
    for alive in (True, False):
        torch.nn.init.zeros_(model.head.bbox_pred.weight)
        torch.nn.init.constant_(model.head.bbox_pred.bias, 1.0 if alive else -1.0)
        caplog.clear()
        d2_logger._LOG_TIMER.clear()  # the warning is rate-limited per call site
        with EventStorage() as storage, caplog.at_level(logging.WARNING):
            model.train()(batch)
        share = storage.latest()["fcos/clamped_box_sides"][0]
        assert share == (0.0 if alive else 1.0)
        assert ("dead side" in caplog.text) == (not alive)
