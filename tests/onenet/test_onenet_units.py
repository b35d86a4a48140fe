"""OneNet pieces against hand-computed costs, losses and score gaps (paper Eq. 1-5, Def. 3.3)."""

import math

import pytest
import torch
from detectron2.layers import batched_nms
from detectron2.utils.events import EventStorage

import matchcost
from helpers import build_model, build_yacs_model, make_instances
from onenet import OneNetAssigner, ResNetDeconvBackbone
from onenet.score_gap import score_gaps

IMAGE_SIZE = (100, 200)  # (h, w): the L1 cost divides x by 200 and y by 100
GT = torch.tensor([[40.0, 20, 120, 80]])
GT_CLASSES = torch.tensor([0])
# sample 0 is the gt box with a low score, sample 1 is shifted 10 px right with a high score
PRED = torch.tensor([[40.0, 20, 120, 80], [50, 20, 130, 80]])
PROBS = torch.tensor([[0.1], [0.9]])


def focal_class_cost(p, alpha=0.25, gamma=2.0):
    return alpha * (1 - p) ** gamma * -math.log(p) - (1 - alpha) * p**gamma * -math.log(1 - p)


def assign(**kwargs):
    anchors = kwargs.pop("anchors", PRED)
    return OneNetAssigner(**kwargs)(
        anchors=anchors,
        num_anchors_per_level=[len(anchors)],
        strides=[8],
        probs=PROBS,
        pred_boxes=PRED,
        gt_boxes=GT,
        gt_classes=GT_CLASSES,
        image_size=IMAGE_SIZE,
    )


def test_hand_costs_of_the_two_samples():
    # sample 1: L1 = 2 * 10 / 200 = 0.1 (x normalised by w); GIoU = IoU = 70*60 / (2*4800 - 4200)
    giou_1 = 4200 / 5400
    loc = [5 * 0.0 - 2 * 1.0, 5 * 0.1 - 2 * giou_1]
    assert loc == pytest.approx([-2.0, -1.0555556], abs=1e-6)
    cls = [2 * focal_class_cost(0.1), 2 * focal_class_cost(0.9)]
    assert cls == pytest.approx([0.9309666, -2.7971141], abs=1e-6)
    # location cost only: the gt-shaped low-score sample; + classification cost: the high-score one
    loc_only = assign(weight_class=0.0)
    assert loc_only.pred_inds.tolist() == [0]
    assert loc_only.scores.item() == pytest.approx(loc[0], abs=1e-5)
    with_cls = assign()
    assert with_cls.pred_inds.tolist() == [1]
    assert with_cls.scores.item() == pytest.approx(loc[1] + cls[1], abs=1e-5)


def test_predefined_points_use_centre_l1_without_giou():
    # stride-8 point boxes centred at (80, 50) = the gt centre and at (100, 50); the predicted boxes
    # (PRED: the best one is sample 0) must not be used
    anchors = torch.tensor([[96.0, 46, 104, 54], [76, 46, 84, 54]])
    a = assign(anchors=anchors, location_cost="predefined", candidates="points", weight_class=0.0)
    assert a.pred_inds.tolist() == [1] and a.scores.item() == pytest.approx(0.0, abs=1e-6)
    # L1 between (x, y, x, y) and (cx, cy, cx, cy): 2 * |100 - 80| / 200 = 0.2, times lambda_L1 = 5
    cost, _, weight_giou = OneNetAssigner(location_cost="predefined").cost_inputs(anchors, PRED, GT)
    assert weight_giou == 0.0 and cost[0].tolist() == [100.0, 50, 100, 50]
    both = assign(anchors=anchors, location_cost="predefined", weight_class=0.0, solver="hungarian")
    assert both.pred_inds.tolist() == [1]
    worse = assign(anchors=anchors[:1], location_cost="predefined", weight_class=0.0)
    assert worse.scores.item() == pytest.approx(5 * 0.2, abs=1e-6)


def test_predefined_anchor_boxes_use_l1_and_giou_of_the_anchors():
    anchors = torch.tensor([[50.0, 20, 130, 80], [40, 20, 120, 80]])  # PRED in reverse order
    a = assign(
        anchors=anchors, location_cost="predefined", candidates="anchor_boxes", weight_class=0.0
    )
    assert a.pred_inds.tolist() == [1] and a.scores.item() == pytest.approx(-2.0, abs=1e-6)


def test_fpn_level_prior_keeps_the_gt_level():
    # max(w, h) / 2 = 40 -> P3 [0, 64]; the perfect-centre point is on P4 and must not be chosen
    anchors = torch.tensor([[96.0, 46, 104, 54], [72, 42, 88, 58]])
    a = OneNetAssigner(location_cost="predefined", weight_class=0.0, fpn_level_prior=True)(
        anchors=anchors,
        num_anchors_per_level=[1, 1, 0, 0, 0],
        strides=[8, 16, 32, 64, 128],
        probs=PROBS,
        pred_boxes=PRED,
        gt_boxes=GT,
        gt_classes=GT_CLASSES,
        image_size=IMAGE_SIZE,
    )
    assert a.pred_inds.tolist() == [0]


def test_min_cost_lets_two_gts_share_a_sample_hungarian_does_not():
    gt = torch.cat([GT, GT])
    kwargs = dict(
        anchors=PRED,
        num_anchors_per_level=[2],
        strides=[8],
        probs=PROBS,
        pred_boxes=PRED,
        gt_boxes=gt,
        gt_classes=torch.tensor([0, 0]),
        image_size=IMAGE_SIZE,
    )
    assert OneNetAssigner()(**kwargs).pred_inds.tolist() == [1, 1]
    assert sorted(OneNetAssigner(solver="hungarian")(**kwargs).pred_inds.tolist()) == [0, 1]


def test_assigner_rejects_unknown_options():
    with pytest.raises(ValueError, match="solver"):
        OneNetAssigner(solver="argmax")
    with pytest.raises(ValueError, match="scale_ranges"):
        OneNetAssigner(fpn_level_prior=True, scale_ranges=None)


class RecordingAssigner(OneNetAssigner):
    def __call__(self, **kwargs):
        self.seen = kwargs
        return super().__call__(**kwargs)


def test_model_feeds_probabilities_decoded_boxes_and_unpadded_size():
    model = build_model("OneNet/fcos_o2o_cls_R_50_FPN_3x.py", overrides=("model.num_classes=3",))
    model.assigner = RecordingAssigner()
    anchors = torch.tensor([[76.0, 46, 84, 54], [96, 46, 104, 54]])  # stride 8
    logits = torch.tensor([[[0.0, 2.0, -2.0], [1.0, 0.0, 0.0]]])
    deltas = torch.tensor([[[5.0, 4, 5, 4], [1, 1, 1, 1]]])
    inst = make_instances(100, 200, [[40, 20, 120, 80]], [1])
    with EventStorage():
        model.label_samples(anchors, [2], logits, deltas, [IMAGE_SIZE], [inst])
    seen = model.assigner.seen
    torch.testing.assert_close(seen["probs"], logits[0].sigmoid())
    torch.testing.assert_close(seen["pred_boxes"][0], torch.tensor([40.0, 18, 120, 82]))  # ltrb x 8
    assert seen["image_size"] == IMAGE_SIZE and seen["strides"] == [8, 16, 32, 64, 128]
    with EventStorage(), pytest.raises(ValueError, match="num_classes"):
        model.label_samples(
            anchors,
            [2],
            logits,
            deltas,
            [IMAGE_SIZE],
            [make_instances(100, 200, [[0, 0, 9, 9]], [3])],
        )


def test_losses_by_hand():
    model = build_model("OneNet/fcos_o2o_cls_R_50_FPN_3x.py", overrides=("model.num_classes=1",))
    anchors = torch.tensor([[76.0, 46, 84, 54]])
    logits = torch.zeros(1, 1, 1)  # p = 0.5
    deltas = torch.tensor([[[5.0, 4, 5, 4]]])  # box (40, 18, 120, 82)
    inst = make_instances(100, 200, [[40, 20, 120, 80]], [0])
    with EventStorage():
        (assignment,) = model.label_samples(anchors, [1], logits, deltas, [IMAGE_SIZE], [inst])
        losses = model.losses(anchors, logits, deltas, [IMAGE_SIZE], [inst], [assignment])
    normalizer = 0.9 * 100 + 0.1 * 1  # EMA of the number of positive pairs, started at 100
    focal = 0.25 * 0.5**2 * math.log(2)
    l1 = 2 / 100 + 2 / 100  # y0 and y1 off by 2 px, divided by h
    giou = 4800 / 5120  # gt inside the prediction: GIoU = IoU
    assert losses["loss_onenet_cls"].item() == pytest.approx(2 * focal / normalizer, rel=1e-5)
    assert losses["loss_onenet_l1"].item() == pytest.approx(5 * l1 / normalizer, rel=1e-5)
    assert losses["loss_onenet_giou"].item() == pytest.approx(2 * (1 - giou) / normalizer, rel=1e-5)


def test_inference_is_top_k_without_nms():
    model = build_model(
        "OneNet/fcos_o2o_cls_R_50_FPN_3x.py",
        overrides=("model.num_classes=1", "model.max_detections_per_image=50"),
    )
    torch.nn.init.constant_(model.head.bbox_pred.bias, 3.0)  # 6x6-stride boxes, neighbours overlap
    model.eval()
    with torch.no_grad():
        (out,) = model([{"image": torch.rand(3, 64, 96) * 255}])
    inst = out["instances"]
    assert model.test_nms_thresh is None and len(inst) == 50
    assert (inst.scores[:-1] >= inst.scores[1:]).all()
    # overlapping same-class boxes survive: NMS at 0.6 would remove some of them
    kept = batched_nms(inst.pred_boxes.tensor, inst.scores, inst.pred_classes, 0.6)
    assert len(kept) < len(inst)


def test_score_gap_by_hand():
    gt = torch.tensor([[0.0, 0, 10, 10], [50, 50, 60, 60], [100, 100, 110, 110]])
    boxes = torch.tensor([[0.0, 0, 10, 10], [1, 0, 10, 10], [0, 0, 10, 30], [50, 50, 60, 60]])
    scores = torch.tensor([[0.9, 0.0], [0.6, 0.0], [0.95, 0.0], [0.0, 0.7]])
    # gt 0 (class 0): samples 0, 1 match (IoU 1, 0.9), sample 2 does not (IoU 1/3): 0.9 - 0.6
    # gt 1 (class 1): only sample 3 -> gap = its score; gt 2: no sample -> missed
    r = score_gaps(scores, boxes, gt, torch.tensor([0, 1, 1]))
    torch.testing.assert_close(r.gaps, torch.tensor([0.3, 0.7]))
    torch.testing.assert_close(r.top_scores, torch.tensor([0.9, 0.7]))
    torch.testing.assert_close(r.normalized_scores, torch.tensor([1.0, 0.6 / 0.9, 1.0]))
    assert r.num_missed == 1


def test_deformable_deconv_backbone_shapes_and_gradients():
    from detectron2.modeling.backbone import BasicStem, ResNet

    bottom_up = ResNet(
        stem=BasicStem(in_channels=3, out_channels=64, norm="BN"),
        stages=ResNet.make_default_stages(depth=18, norm="BN"),
        out_features=["res2", "res3", "res4", "res5"],
    )
    neck = ResNetDeconvBackbone(bottom_up=bottom_up, channels=[32, 16, 8], deform=True)
    assert neck.size_divisibility == 32 and neck.output_shape()["p2"].stride == 4
    out = neck(torch.rand(1, 3, 64, 96))["p2"]
    assert out.shape == (1, 8, 16, 24)
    out.sum().backward()
    assert neck.up_blocks[0].conv.offset_mask.weight.grad is not None


# --------------------------------------------------------------------------------- sample points
# The reference's locations (pss_onenet.md 2.2): x = 4 j + 2, y = 4 i + 2 for the CenterNet-style
# head (stride 4) and x = j s + s // 2 per FPN level for FCOS.
def centernet_location(i, j, s):
    assert s == 4
    return [4 * j + 2, 4 * i + 2]


def fcos_location(i, j, s):
    return [j * s + s // 2, i * s + s // 2]


def level_points(location, strides, sizes):
    return torch.tensor(
        [
            location(i, j, s)
            for s, (h, w) in zip(strides, sizes)
            for i in range(h)
            for j in range(w)
        ],
        dtype=torch.float32,
    )


def expected_boxes(points, location, strides, sizes):
    """(x - l, y - t, x + r, y + b) for ltrb = (1, 2, 3, 4) x stride (FCOS) or pixels."""
    unit = [
        s if location is fcos_location else 1
        for s, (h, w) in zip(strides, sizes)
        for _ in range(h * w)
    ]
    unit = torch.tensor(unit, dtype=torch.float32)
    return torch.cat([points, points], dim=1) + torch.tensor([-1.0, -2, 3, 4]) * unit[:, None]


@pytest.mark.parametrize(
    "config, location, strides",
    [
        ("OneNet/centernet_o2o_cls_R_50_DCN_270k.py", centernet_location, [4]),
        ("OneNet/fcos_o2o_cls_R_50_FPN_3x.py", fcos_location, [8, 16, 32, 64, 128]),
    ],
)
def test_sample_points_are_the_reference_locations(config, location, strides):
    model = build_model(config, overrides=("model.num_classes=1",))
    assert model.strides == strides
    image = torch.rand(3, 30, 60) * 255  # padded to 32 x 64: the points cover the padded map
    sizes = [(math.ceil(32 / s), math.ceil(64 / s)) for s in strides]
    # level-major, then row-major over each level (the permute_to_N_HWA_K order of the outputs)
    points = level_points(location, strides, sizes)
    first = 2 * sizes[0][1] + 5  # row 2, column 5 of the first level

    # assignment: the candidates handed to the assigner are centred on the points ...
    model.assigner = RecordingAssigner(location_cost="predefined", weight_class=0.0)
    box = torch.cat([points[first] - 6, points[first] + 6]).tolist()
    model.train()
    with EventStorage():
        model([{"image": image, "instances": make_instances(30, 60, [box], [0])}])
    seen = model.assigner.seen
    assert seen["num_anchors_per_level"] == [h * w for h, w in sizes]
    torch.testing.assert_close(matchcost.box_centers(seen["anchors"]), points)
    # ... so a gt centred on a point is matched to it at zero pre-defined location cost
    a = OneNetAssigner(location_cost="predefined", weight_class=0.0)(**seen)
    assert a.pred_inds.tolist() == [first] and a.scores.item() == pytest.approx(0.0, abs=1e-6)

    # decoding: constant ltrb outputs (1, 2, 3, 4) -> boxes around the points, in strides (FCOS)
    # or pixels (CenterNet-style head)
    torch.nn.init.zeros_(model.head.bbox_pred.weight)
    with torch.no_grad():
        model.head.bbox_pred.bias.copy_(torch.tensor([1.0, 2, 3, 4]))
    model.eval()
    ((_, boxes),) = model.dense_outputs([{"image": image}])
    torch.testing.assert_close(boxes, expected_boxes(points, location, strides, sizes))


@pytest.mark.parametrize(
    "config, location",
    [
        ("OneNet/yacs/centernet_o2o_cls_R_50_270k.yaml", centernet_location),
        ("OneNet/yacs/fcos_o2o_cls_R_50_FPN_3x.yaml", fcos_location),
    ],
)
def test_yacs_sample_points_are_the_reference_locations(config, location):
    """The yacs builder (OneNet.from_config) makes its own point generator and box coder."""
    cfg, model = build_yacs_model(config)
    strides = model.strides
    assert strides == ([4] if location is centernet_location else [8, 16, 32, 64, 128])
    sizes = [(math.ceil(32 / s), math.ceil(64 / s)) for s in strides]
    anchors = model.anchor_generator([torch.zeros(1, 1, h, w) for h, w in sizes])
    anchors = torch.cat([a.tensor for a in anchors])
    points = level_points(location, strides, sizes)
    torch.testing.assert_close(matchcost.box_centers(anchors), points)
    deltas = torch.tensor([[1.0, 2, 3, 4]]).expand(len(anchors), 4)
    torch.testing.assert_close(
        model.box2box_transform.apply_deltas(deltas, anchors),
        expected_boxes(points, location, strides, sizes),
    )
