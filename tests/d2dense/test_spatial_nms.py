"""DeFCN Table 2's post-processing: NMS within each FPN level, restricted to a k x k spatial range
(``d2dense.modeling.postprocess.suppress_within_spatial_range``, FCOS ``test_spatial_nms``)."""

import pytest
import torch
from torchvision.ops import batched_nms, box_iou, nms

from d2dense.modeling.postprocess import greedy_suppression, suppress_within_spatial_range
from helpers import build_model


def row_of_identical_boxes(scores):
    """One image, one level, one class, a 1 x W map whose locations all predict the same box."""
    score_map = torch.tensor(scores).view(1, 1, 1, -1)
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0]]).repeat(len(scores), 1)[None]
    return [score_map], [boxes]


def survivors(score_maps, thresh=0.05):
    return [torch.nonzero(s.flatten() > thresh).flatten().tolist() for s in score_maps]


@pytest.mark.parametrize("seed", range(5))
def test_greedy_suppression_is_torchvision_nms(seed):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(60, 2, generator=g) * 50
    boxes = torch.cat([xy, xy + 10 + torch.rand(60, 2, generator=g) * 20], dim=1)
    scores = torch.rand(60, generator=g)
    order = scores.argsort(descending=True)
    keep = greedy_suppression(box_iou(boxes[order], boxes[order]) > 0.5)
    assert sorted(order[keep].tolist()) == sorted(nms(boxes, scores, 0.5).tolist())


@pytest.mark.parametrize(
    "kernel_size,kept",
    [
        (1, [0, 1, 2, 3, 4]),  # only its own location: nothing to suppress
        # x0 removes x1; x2 is 2 steps from x0 and x1 no longer suppresses; x2 removes x3; x4 stays
        (3, [0, 2, 4]),
        (5, [0, 3]),  # x0 removes x1, x2; x3 (3 steps away) stays and removes x4
        (11, [0]),  # the whole row: plain NMS
    ],
)
def test_hand_case_on_a_row_of_identical_boxes(kernel_size, kept):
    maps, boxes = row_of_identical_boxes([0.9, 0.8, 0.7, 0.6, 0.5])
    out = suppress_within_spatial_range(maps, boxes, kernel_size, 0.6, 0.05, 1000)
    assert survivors(out) == [kept]
    flat = out[0].flatten()
    assert flat[kept].tolist() == pytest.approx(maps[0].flatten()[kept].tolist())


def test_other_classes_levels_and_low_overlap_are_not_suppressed():
    maps, boxes = row_of_identical_boxes([0.9, 0.8])
    two_classes = torch.stack([maps[0][0, 0], maps[0][0, 0] * 0.9])[None]  # (1, 2, 1, 2)
    out = suppress_within_spatial_range([two_classes], boxes, 3, 0.6, 0.05, 1000)
    assert survivors(out) == [[0, 2]]  # each class keeps its best location
    # the same two predictions on two levels: each level keeps both locations' best only
    out = suppress_within_spatial_range(maps + maps, boxes + boxes, 3, 0.6, 0.05, 1000)
    assert survivors(out) == [[0], [0]]
    apart = torch.tensor([[[0.0, 0.0, 10.0, 10.0], [6.0, 0.0, 16.0, 10.0]]])  # IoU 4/16 = 0.25
    out = suppress_within_spatial_range(maps, [apart], 3, 0.6, 0.05, 1000)
    assert survivors(out) == [[0, 1]]


def test_only_the_levels_candidates_take_part():
    """Below the score threshold or outside the level's top-k, a prediction neither suppresses nor
    survives: the output holds the surviving candidates only, as NMS after the detector's top-k."""
    maps, boxes = row_of_identical_boxes([0.9, 0.7, 0.8, 0.01])
    out = suppress_within_spatial_range(maps, boxes, 1, 0.6, 0.05, 2)
    assert out[0].flatten().tolist() == pytest.approx([0.9, 0.0, 0.8, 0.0])
    out = suppress_within_spatial_range(maps, boxes, 3, 0.6, 0.05, 2)
    assert out[0].flatten().tolist() == pytest.approx([0.9, 0.0, 0.8, 0.0])  # 0.7 is no candidate


@pytest.mark.parametrize("seed", range(4))
def test_a_window_over_the_whole_map_is_class_aware_nms_per_level(seed):
    """Brute-force reference: torchvision's batched_nms over each level's candidates."""
    g = torch.Generator().manual_seed(seed)
    n, k, shapes = 2, 3, [(6, 8), (3, 4)]
    maps, boxes = [], []
    for h, w in shapes:
        maps.append(torch.rand(n, k, h, w, generator=g))
        xy = torch.rand(n, h * w, 2, generator=g) * 30
        boxes.append(torch.cat([xy, xy + 15 + torch.rand(n, h * w, 2, generator=g) * 10], -1))
    out = suppress_within_spatial_range(maps, boxes, 99, 0.5, 0.3, 1000)
    for scores, level_boxes, filtered in zip(maps, boxes, out):
        for i in range(n):
            flat = scores[i].flatten()
            cand = torch.nonzero(flat > 0.3).flatten()
            hw = scores.shape[2] * scores.shape[3]
            keep = batched_nms(level_boxes[i, cand % hw], flat[cand], cand // hw, 0.5)
            want = sorted(cand[keep].tolist())
            got = torch.nonzero(filtered[i].flatten() > 0.3).flatten().tolist()
            assert got == want


@pytest.mark.parametrize("seed", range(4))
def test_a_3x3_window_matches_a_brute_force_greedy_loop(seed):
    """Reference: the greedy loop written out over (level, class, y, x) candidates."""
    g = torch.Generator().manual_seed(seed)
    h, w, k = 5, 7, 2
    scores = torch.rand(1, k, h, w, generator=g)
    xy = torch.rand(1, h * w, 2, generator=g) * 20
    boxes = torch.cat([xy, xy + 15 + torch.rand(1, h * w, 2, generator=g) * 10], -1)
    out = suppress_within_spatial_range([scores], [boxes], 3, 0.5, 0.2, 1000)
    cands = sorted(
        (
            (scores[0, c, y, x].item(), c, y, x)
            for c in range(k)
            for y in range(h)
            for x in range(w)
        ),
        reverse=True,
    )
    kept = []
    for s, c, y, x in cands:
        if s <= 0.2:
            continue
        box = boxes[0, y * w + x][None]
        if not any(
            c == c2 and abs(y - y2) <= 1 and abs(x - x2) <= 1
            and box_iou(box, boxes[0, y2 * w + x2][None]).item() > 0.5
            for c2, y2, x2 in kept
        ):  # fmt: skip
            kept.append((c, y, x))
    want = sorted(c * h * w + y * w + x for c, y, x in kept)
    assert torch.nonzero(out[0].flatten() > 0.2).flatten().tolist() == want
    assert len(want) < sum(1 for s, *_ in cands if s > 0.2)  # the case suppresses something


def _fcos_with_scores(overrides=()):
    model = build_model(
        "Baselines/fcos_wo_ctr_R_50_FPN_3x.py",
        "cpu",
        ["model.num_classes=2", "model.max_detections_per_image=100000", *overrides],
    ).eval()
    torch.nn.init.constant_(model.head.cls_score.bias, 0.0)  # scores near 0.5: many candidates
    # every location predicts a box 6 strides wide around itself: a neighbour one step away
    # overlaps it at IoU 30/42 > 0.6, one two steps away at 0.5
    torch.nn.init.zeros_(model.head.bbox_pred.weight)
    torch.nn.init.constant_(model.head.bbox_pred.bias, 3.0)
    return model


def test_fcos_with_a_1x1_range_returns_its_raw_candidates():
    torch.manual_seed(0)
    image = [{"image": torch.rand(3, 150, 211) * 255}]
    with torch.no_grad():
        raw = _fcos_with_scores()(image)[0]["instances"]
        same = _fcos_with_scores(["model.test_spatial_nms=[1,0.6]"])(image)[0]["instances"]
        local = _fcos_with_scores(["model.test_spatial_nms=[3,0.6]"])(image)[0]["instances"]
        wide = _fcos_with_scores(["model.test_spatial_nms=[99,0.6]"])(image)[0]["instances"]
    assert len(raw) > 0
    assert torch.equal(raw.pred_boxes.tensor, same.pred_boxes.tensor)
    assert torch.equal(raw.scores, same.scores)
    assert len(wide) <= len(local) < len(raw)
    # what survives is a subset of the raw candidates, scores unchanged
    raw_set = {tuple(b) for b in raw.pred_boxes.tensor.tolist()}
    assert {tuple(b) for b in local.pred_boxes.tensor.tolist()} <= raw_set


@pytest.mark.parametrize("value", ["[2,0.6]", "[0,0.6]", "[3,0.0]", "[3,1.5]"])
def test_bad_spatial_range_names_the_key(value):
    with pytest.raises(ValueError, match="test_spatial_nms"):
        build_model(
            "Baselines/fcos_wo_ctr_R_50_FPN_3x.py", "cpu", [f"model.test_spatial_nms={value}"]
        )


def test_yacs_key_builds_it():
    from detectron2.config import get_cfg
    from detectron2.modeling import build_model as build_d2_model

    from d2dense.utils import yacs_config_adders

    cfg = get_cfg()
    for add in yacs_config_adders():
        add(cfg)
    cfg.merge_from_file("configs/Baselines/yacs/fcos_R_50_FPN_1x.yaml")
    cfg.MODEL.DEVICE = "cpu"
    cfg.MODEL.FCOS.TEST_SPATIAL_NMS = [5, 0.6]
    cfg.MODEL.RESNETS.DEPTH = 18
    cfg.MODEL.RESNETS.RES2_OUT_CHANNELS = 64
    assert build_d2_model(cfg).test_spatial_nms == (5, 0.6)
