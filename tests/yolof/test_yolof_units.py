"""YOLOF pieces against hand-computed cases and the paper's description."""

import math
import os
import sys

import numpy as np
import pytest
import torch
from torch import nn

from detectron2.config import instantiate
from detectron2.layers import ShapeSpec
from detectron2.modeling.backbone import Backbone
from detectron2.utils.events import EventStorage

from helpers import REPO_ROOT, load_config, make_instances
from matchcost import elementwise_giou
from yolof import (
    CenterClampedBox2BoxTransform,
    DilatedEncoder,
    PrefixLRFactor,
    RandomShift,
    ShiftTransform,
    implicit_objectness_logits,
)


class _FakeC5(Backbone):
    """Identity "backbone" exposing its input as a stride-32 ``res5``."""

    def __init__(self, channels):
        super().__init__()
        self.channels = channels

    def forward(self, x):
        return {"res5": x}

    def output_shape(self):
        return {"res5": ShapeSpec(channels=self.channels, stride=32)}


# ---------------------------------------------------------------------------------- encoder
def test_dilated_encoder_structure_and_shapes():
    enc = DilatedEncoder(_FakeC5(64), out_channels=32, block_mid_channels=8)
    assert enc.output_shape() == {"encoder": ShapeSpec(channels=32, stride=32)}
    # projector: 1x1 then 3x3, conv + BN only (no activation, Fig. 5)
    assert enc.lateral_conv.kernel_size == (1, 1) and enc.fpn_conv.kernel_size == (3, 3)
    assert enc.lateral_conv.activation is None and enc.fpn_conv.activation is None
    assert isinstance(enc.lateral_conv.norm, nn.BatchNorm2d)
    # 4 residual blocks 32 -> 8 -> 8 -> 32, dilations 2,4,6,8 on the 3x3 with matching padding
    assert len(enc.dilated_blocks) == 4
    for block, d in zip(enc.dilated_blocks, (2, 4, 6, 8)):
        assert (block.conv1.in_channels, block.conv1.out_channels) == (32, 8)
        assert block.conv2.dilation == (d, d) and block.conv2.padding == (d, d)
        assert block.conv2.kernel_size == (3, 3)
        assert (block.conv3.in_channels, block.conv3.out_channels) == (8, 32)
        assert all(
            isinstance(c.norm, nn.BatchNorm2d) for c in (block.conv1, block.conv2, block.conv3)
        )
    x = torch.randn(2, 64, 7, 9)
    assert enc(x)["encoder"].shape == (2, 32, 7, 9)


def test_projector_has_no_activation():
    enc = DilatedEncoder(
        _FakeC5(16),
        out_channels=16,
        block_mid_channels=4,
        num_residual_blocks=0,
        block_dilations=[],
    )
    enc.eval()
    out = enc(torch.randn(1, 16, 5, 5))["encoder"]
    assert (out < 0).any()  # a ReLU anywhere in the projector would make it non-negative


def test_residual_block_relu_before_add():
    enc = DilatedEncoder(
        _FakeC5(16),
        out_channels=16,
        block_mid_channels=4,
        num_residual_blocks=1,
        block_dilations=[2],
    )
    enc.eval()
    block = enc.dilated_blocks[0]
    x = torch.randn(2, 16, 6, 6)
    branch = block.conv3(block.conv2(block.conv1(x)))
    assert (branch >= 0).all()  # conv3 ends in norm + ReLU
    torch.testing.assert_close(block(x), branch + x)  # then the shortcut, nothing after it
    assert (block(x) < 0).any()  # hence negative values survive from x
    # zeroing conv3 (and its BN shift) leaves the identity: relu(BN(0)) + x = x
    nn.init.zeros_(block.conv3.weight)
    nn.init.zeros_(block.conv3.bias)
    torch.testing.assert_close(block(x), x)
    block.use_shortcut = False  # Table 5c "w/o shortcut"
    assert (block(x) == 0).all()


def test_encoder_rejects_mismatched_dilations():
    with pytest.raises(ValueError, match="dilations"):
        DilatedEncoder(_FakeC5(8), out_channels=8, num_residual_blocks=3, block_dilations=[2, 4])


# ---------------------------------------------------------------------------------- objectness
def test_implicit_objectness_hand_values():
    # (N=1, A=1, K=2, H=1, W=2); column 0: cls (0, 2), obj 0; column 1: cls (30, 100), obj -1
    cls = torch.tensor([[[[0.0, 30.0]], [[2.0, 100.0]]]])
    obj = torch.tensor([[[[0.0, -1.0]]]])
    out = implicit_objectness_logits(cls, obj, num_classes=2)
    assert out.shape == (1, 2, 1, 2)
    # no clamp active: logit(sigmoid(c) * sigmoid(o)) = c + o - log(1 + e^c + e^o)
    assert out[0, 0, 0, 0].item() == pytest.approx(math.log(1 / 3), abs=1e-6)  # 0.25 -> log(1/3)
    assert out[0, 1, 0, 0].item() == pytest.approx(2 - math.log(1 + math.e**2 + 1), abs=1e-6)
    p = torch.sigmoid(torch.tensor(2.0)) * 0.5
    assert out[0, 1, 0, 0].item() == pytest.approx(torch.logit(p).item(), abs=1e-5)
    # clamp active: e^30 and e^100 (inf in float32) are clamped to 1e8 -> c + o - log(1 + 1e8 + e^-1)
    clamped = math.log(1 + 1e8 + math.exp(-1))
    assert out[0, 0, 0, 1].item() == pytest.approx(30 - 1 - clamped, abs=1e-4)  # 10.579, not ~29
    assert out[0, 1, 0, 1].item() == pytest.approx(100 - 1 - clamped, abs=1e-4)
    assert torch.isfinite(out).all()


def test_decoder_scores_include_objectness():
    from yolof import YOLOFDecoder

    torch.manual_seed(0)
    head = YOLOFDecoder(in_channels=8, num_classes=3, num_anchors=2, norm="BN").eval()
    (scores,), (deltas,) = head([torch.randn(1, 8, 4, 5)])
    assert scores.shape == (1, 6, 4, 5) and deltas.shape == (1, 8, 4, 5)
    x = torch.randn(1, 8, 4, 5)
    cls = head.cls_score(head.cls_subnet(x)).view(1, 2, 3, 4, 5)
    obj = head.object_pred(head.bbox_subnet(x)).view(1, 2, 1, 4, 5)
    expected = (cls.sigmoid() * obj.sigmoid()).view(1, 6, 4, 5)
    torch.testing.assert_close(head([x])[0][0].sigmoid(), expected)
    # prior: sigmoid(cls bias) = 0.01, objectness bias 0 -> initial score about 0.005
    assert torch.sigmoid(head.cls_score.bias[0]).item() == pytest.approx(0.01, rel=1e-5)


# ---------------------------------------------------------------------------------- box coding
def test_center_clamp_limits_shift_to_32px():
    t = CenterClampedBox2BoxTransform(ctr_clamp=32.0)
    anchors = torch.tensor([[0.0, 0.0, 64.0, 64.0], [0.0, 0.0, 64.0, 64.0]])
    # dx = 1 asks for a 64 px shift (clamped to 32); dx = 0.25 is 16 px (kept); dw = log 2 doubles w
    deltas = torch.tensor([[1.0, -1.0, 0.0, 0.0], [0.25, 0.0, math.log(2.0), 10.0]])
    out = t.apply_deltas(deltas, anchors)
    torch.testing.assert_close(out[0], torch.tensor([32.0, -32.0, 96.0, 32.0]))
    h = 64 * math.exp(math.log(1000 / 16))  # dh clamped at log(1000/16)
    torch.testing.assert_close(out[1], torch.tensor([-16.0, 32 - h / 2, 112.0, 32 + h / 2]))


# ---------------------------------------------------------------------------------- matching
def _cpu_model(num_classes=2):
    cfg = load_config("YOLOF/yolof_R_50_C5_1x.py", overrides=[f"model.num_classes={num_classes}"])
    return instantiate(cfg.model)


def test_model_uniform_matching_hand_case():
    """C5 grid 2 x 5 (a 64 x 160 image), 5 anchors per location (index (y*5 + x)*5 + size) centred
    on the cell corners (offset 0), zero deltas so predicted boxes = anchors.

    gt0 = [0, 0, 60, 60] (cxcywh 30, 30, 60, 60): L1 costs of the size-64 anchors at (32, 32),
    (32, 0), (0, 32), (64, 32) are 12, 40, 40, 44, the next is 60 -> anchors 31, 6, 26, 36 from both
    the predicted-box and the anchor ranking (8 pairs); anchor IoUs 0.88, 0.33, 0.33, 0.28 >= 0.15.
    gt1 = [136, 36, 144, 44] (8 px): its nearest anchors 45 (cost 68), 20 and 40 (100), then one of
    46 / 15 (132, a tie) all have IoU < 0.15 -> positive-ignored: no positive, anchors ignored.
    """
    model = _cpu_model()
    (anchors,) = model.anchor_generator([torch.zeros(1, 1, 2, 5)])
    assert len(anchors) == 50  # 2 x 5 locations x 5 anchors
    gt = make_instances(64, 160, [[0, 0, 60, 60], [136, 36, 144, 44]], [1, 0])
    with EventStorage():
        (a,) = model.label_anchors(anchors, torch.zeros(1, 50, 4), [gt])
    assert a.pred_inds.numel() == 16 and int(a.pair_valid.sum()) == 8
    assert sorted(set(a.pred_inds[a.pair_valid].tolist())) == [6, 26, 31, 36]
    assert (a.gt_inds[a.pair_valid] == 0).all()
    targets = a.class_targets(gt.gt_classes, model.num_classes)
    assert torch.nonzero(targets == 1).flatten().tolist() == [6, 26, 31, 36]
    ignored = set(torch.nonzero(targets == -1).flatten().tolist())
    assert {20, 40, 45} <= ignored and len(ignored) == 4 and ignored - {20, 40, 45} <= {15, 46}
    assert (targets[[i for i in range(50) if i not in ignored | {6, 26, 31, 36}]] == 2).all()
    assert a.num_unmatched_gt == 1
    # losses: the GIoU sum runs over the 8 valid pairs (duplicates included), normalised by the 4
    # unique foreground anchors; zero deltas on the 4 anchors give 1 - GIoU per pair
    losses = model.losses(anchors, torch.zeros(1, 50, 2), torch.zeros(1, 50, 4), [gt], [a])
    pairs = a.pred_inds[a.pair_valid]
    expected = (1 - elementwise_giou(anchors.tensor[pairs], gt.gt_boxes.tensor[[0] * 8])).sum() / 4
    assert losses["loss_yolof_box_reg"].item() == pytest.approx(expected.item(), rel=1e-5)


def test_model_matches_the_boxes_decoded_from_its_current_deltas():
    """With non-zero deltas the model ranks the decoded, centre-clamped predicted boxes (not the
    anchors): its assignment equals ``matchcost.uniform_assign`` on those boxes."""
    import matchcost

    model = _cpu_model()
    (anchors,) = model.anchor_generator([torch.zeros(1, 1, 4, 6)])
    gen = torch.Generator().manual_seed(0)
    deltas = torch.randn(1, len(anchors), 4, generator=gen) * 0.5
    gt = make_instances(
        128, 192, [[10, 20, 90, 100], [100, 8, 180, 60], [40, 70, 60, 120]], [1, 0, 1]
    )
    with EventStorage():
        (a,) = model.label_anchors(anchors, deltas, [gt])
    pred = model.box2box_transform.apply_deltas(deltas[0], anchors.tensor)
    expected = matchcost.uniform_assign(pred, anchors.tensor, gt.gt_boxes.tensor, k=4)
    on_anchors = matchcost.uniform_assign(anchors.tensor, anchors.tensor, gt.gt_boxes.tensor, k=4)
    assert not torch.equal(expected.pred_inds, on_anchors.pred_inds)  # the deltas matter here
    for name in ("pred_inds", "gt_inds", "labels", "pair_valid"):
        assert torch.equal(getattr(a, name), getattr(expected, name)), name


def test_loss_normaliser_is_the_foreground_count_averaged_over_workers(monkeypatch):
    """Both losses divide by ``mean_over_workers(num_fg)``: a distributed run where the other GPUs
    hold twice as many foreground anchors on average halves them."""
    import yolof.modeling.yolof as yolof_module

    model = _cpu_model()
    (anchors,) = model.anchor_generator([torch.zeros(1, 1, 2, 5)])
    gt = make_instances(64, 160, [[0, 0, 60, 60]], [1])
    logits, deltas = torch.zeros(1, 50, 2), torch.zeros(1, 50, 4)
    with EventStorage():
        (a,) = model.label_anchors(anchors, deltas, [gt])
        single = model.losses(anchors, logits, deltas, [gt], [a])
        monkeypatch.setattr(yolof_module, "mean_over_workers", lambda value, device: 2.0 * value)
        doubled = model.losses(anchors, logits, deltas, [gt], [a])
    for key in single:
        assert doubled[key].item() == pytest.approx(single[key].item() / 2, rel=1e-6), key


def test_gt_class_out_of_range_is_a_clear_error():
    model = _cpu_model(num_classes=2)
    (anchors,) = model.anchor_generator([torch.zeros(1, 1, 2, 2)])
    gt = make_instances(64, 64, [[0, 0, 30, 30]], [5])
    with EventStorage(), pytest.raises(ValueError, match="num_classes"):
        model.label_anchors(anchors, torch.zeros(1, len(anchors), 4), [gt])


# ---------------------------------------------------------------------------------- data / solver
def test_shift_transform_moves_and_clips_boxes_with_the_image():
    img = np.zeros((40, 60, 3), dtype=np.uint8)
    img[10:20, 5:15] = 255  # object at box [5, 10, 15, 20]
    t = ShiftTransform(dx=-8, dy=25, height=40, width=60)
    out = t.apply_image(img)
    ys, xs = np.nonzero(out[..., 0])
    # content moved by (-8, +25): rows 35..39 visible (the rest left the canvas), cols 0..6
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (35, 39, 0, 6)
    box = t.apply_box(np.array([[5.0, 10.0, 15.0, 20.0]]))
    np.testing.assert_allclose(box, [[0.0, 35.0, 7.0, 40.0]])  # = the visible pixels' extent
    assert (out[:25] == 0).all()  # filled with zeros
    np.testing.assert_allclose(
        t.inverse().apply_coords(t.apply_coords(np.array([[3.0, 4.0]]))), [[3.0, 4.0]]
    )


@pytest.mark.parametrize("dx", [-32, -25, -20, 25, 32])
def test_shift_transform_larger_than_the_image_side_leaves_only_fill(dx):
    """A side shorter than the shift (a 900 x 20 image, |dx| >= 20) moves all content out."""
    img = np.full((900, 20, 3), 255, dtype=np.uint8)
    t = ShiftTransform(dx=dx, dy=3, height=900, width=20)
    out = t.apply_image(img)
    assert out.shape == img.shape and (out == 0).all()
    box = t.apply_box(np.array([[0.0, 0.0, 20.0, 900.0]]))
    assert box[0, 2] - box[0, 0] == 0  # empty: detectron2 drops it


def test_shift_transform_keeps_the_overlap_when_the_shift_is_shorter_than_the_side():
    img = np.arange(5 * 7, dtype=np.uint8).reshape(5, 7)
    for dx, dy in [(3, -2), (-6, 4), (0, 0), (6, 0)]:
        out = ShiftTransform(dx=dx, dy=dy, height=5, width=7, fill=99).apply_image(img)
        expected = np.full_like(img, 99)
        for y in range(5):
            for x in range(7):
                if 0 <= y + dy < 5 and 0 <= x + dx < 7:
                    expected[y + dy, x + dx] = img[y, x]
        np.testing.assert_array_equal(out, expected)


def test_random_shift_range_and_probability():
    np.random.seed(0)
    img = np.zeros((10, 10, 3), dtype=np.uint8)
    aug = RandomShift(max_shift=32, prob=0.5)
    shifts = [aug.get_transform(img) for _ in range(400)]
    moved = [t for t in shifts if isinstance(t, ShiftTransform)]
    assert 150 < len(moved) < 250
    dxs = [t.dx for t in moved] + [t.dy for t in moved]
    assert min(dxs) >= -32 and max(dxs) <= 32
    assert (
        RandomShift(max_shift=32, prob=0.0).get_transform(img).__class__.__name__ == "NoOpTransform"
    )


@pytest.mark.parametrize("scale,factor", [("paper", 1.0 / 3), ("cpu", 1.0)])
def test_backbone_lr_factor_in_optimizer(scale, factor):
    """The paper's 1/3 backbone LR (pretrained R50); the CPU variant's R18 trains from scratch at
    the full LR, like the RetinaNet it is compared with."""
    cfg = load_config("YOLOF/yolof_R_50_C5_1x.py", scale=scale)
    model = instantiate(cfg.model)
    cfg.optimizer.params.model = model
    optimizer = instantiate(cfg.optimizer)
    lrs = {}
    for group in optimizer.param_groups:
        for p in group["params"]:
            lrs[id(p)] = group["lr"]
    for name, p in model.named_parameters():
        if not p.requires_grad:  # the paper's frozen stem and res2
            continue
        expected = cfg.optimizer.lr * (factor if name.startswith("backbone.net.") else 1.0)
        assert lrs[id(p)] == pytest.approx(expected), name
    assert PrefixLRFactor("backbone.net.", 0.5)("backbone.lateral_conv.weight") == 1.0


def test_paper_schedule():
    cfg = load_config("YOLOF/yolof_R_50_C5_1x.py", scale="paper")
    sched = instantiate(cfg.lr_multiplier)
    assert cfg.train.max_iter == 22500 and cfg.dataloader.train.total_batch_size == 64
    assert cfg.optimizer.lr == pytest.approx(0.12)
    assert sched(0.0) == pytest.approx(1 / 1500)
    assert sched(1500 / 22500) == pytest.approx(1.0)
    assert sched(16000 / 22500) == pytest.approx(0.1) and sched(21000 / 22500) == pytest.approx(
        0.01
    )


# ---------------------------------------------------------------------------------- Fig. 6 tool
def test_positive_balance_tool_on_sample():
    sys.path.insert(0, os.path.join(REPO_ROOT, "projects"))
    from yolof_positive_balance import count_positives

    from detectron2.data import DatasetCatalog

    dicts = DatasetCatalog.get("coco_sample_person_tiny")
    stats = count_positives(dicts, methods=("uniform", "max_iou"), short_side=320, max_size=533)
    num_gt = sum(len([a for a in d["annotations"] if not a.get("iscrowd", 0)]) for d in dicts)
    for method in ("uniform", "max_iou"):
        assert sum(b["num_gt"] for b in stats[method].values()) == num_gt
    # uniform matching gives a gt at most 2k = 8 positive anchors
    for bucket in stats["uniform"].values():
        assert bucket["num_pos"] <= 8 * bucket["num_gt"]
