"""The assignment-drift record and comparison (onenet/assignment_drift.py) by hand, and the tool
(projects/onenet_assignment_drift.py) on tiny untrained CPU models and the bundled person sample."""

import copy
import math
import os
import sys

import pytest
import torch

from detectron2.data import DatasetCatalog

from helpers import CONFIG_DIR, REPO_ROOT, build_model

import matchcost
from onenet.assignment_drift import drift, positive_samples, summarise_positives

sys.path.insert(0, os.path.join(REPO_ROOT, "projects"))
import onenet_assignment_drift  # noqa: E402

# two levels: stride 8 (points 0-3), stride 16 (points 4-5)
POINTS = torch.tensor([[4.0, 4.0], [12.0, 4.0], [4.0, 12.0], [12.0, 12.0], [8.0, 8.0], [24.0, 8.0]])
STRIDES = (8, 16)
PER_LEVEL = (4, 2)
GT = torch.tensor([[0.0, 0.0, 16.0, 8.0], [0.0, 0.0, 8.0, 8.0], [16.0, 0.0, 32.0, 16.0]])
PROBS = torch.arange(12, dtype=torch.float32).reshape(6, 2) / 20  # (R, K=2)
CLASSES = torch.tensor([1, 0, 0])


def record(gt_inds, pred_inds):
    return positive_samples(
        torch.tensor(gt_inds), torch.tensor(pred_inds), POINTS, PER_LEVEL, STRIDES, GT, PROBS,
        CLASSES,
    )  # fmt: skip


def test_positive_samples_by_hand():
    r = record([0, 2], [1, 3])  # gt 1 gets no positive
    assert r.index.tolist() == [1, -1, 3]
    assert r.levels.tolist() == [0, -1, 0]
    assert r.strides[[0, 2]].tolist() == [8.0, 8.0] and math.isnan(r.strides[1])
    assert r.points[0].tolist() == [12.0, 4.0] and r.points[2].tolist() == [12.0, 12.0]
    assert r.points[1].isnan().all() and math.isnan(r.scores[1])
    # (12, 4) lies in gt 0's box; (12, 12) does not lie in gt 2's box (x from 16); gt 1 has no
    # positive (sample 0 at (4, 4), which lies in its box, must not count)
    assert r.inside_gt.tolist() == [True, False, False]
    # the sample's probability at the gt's class: PROBS[1, 1] = 3/20, PROBS[3, 0] = 6/20
    assert r.scores[[0, 2]].tolist() == pytest.approx([0.15, 0.30])
    summary = summarise_positives(r, num_levels=2)
    assert summary["matched"] == pytest.approx(2 / 3)
    assert summary["inside_gt"] == pytest.approx(0.5)
    assert summary["mean_score"] == pytest.approx(0.225)
    assert summary["per_level"] == [1.0, 0.0]
    with pytest.raises(ValueError, match="num_levels"):
        summarise_positives(record([0], [5]), num_levels=1)


def test_positive_samples_of_an_image_without_objects():
    r = positive_samples(
        torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long), POINTS, PER_LEVEL,
        STRIDES, torch.zeros(0, 4), PROBS, torch.zeros(0, dtype=torch.long),
    )  # fmt: skip
    assert len(r) == 0 and r.points.shape == (0, 2)
    assert summarise_positives(r, num_levels=2)["matched"] == 0.0
    assert drift(r, r)["num_gt"] == 0


def test_drift_by_hand():
    before = record([0, 1, 2], [1, 0, 3])
    # gt 0 stays; gt 1 goes (4, 4) -> (4, 12): one step at stride 8, not more; gt 2 goes from
    # (12, 12) at stride 8 to (24, 8) at stride 16: 12 px in x, 0.75 of a step of the coarser level
    after = record([0, 1, 2], [1, 2, 5])
    d = drift(before, after)
    assert d["num_gt"] == 3
    assert d["changed"] == pytest.approx(2 / 3)
    assert d["moved"] == 0.0
    assert d["level_changed"] == pytest.approx(1 / 3)
    assert d["mean_shift"] == pytest.approx((0 + 1.0 + 0.75) / 3)
    assert d["mean_shift_changed"] == pytest.approx((1.0 + 0.75) / 2)
    assert d["max_shift"] == pytest.approx(1.0)
    # a diagonal neighbour is one grid step, not more: (4, 4) -> (12, 12)
    assert drift(record([0], [0]), record([0], [3]))["moved"] == 0.0
    # a gt unmatched on one side is left out; a far move counts as moved
    far = drift(record([0, 2], [1, 0]), record([0, 1, 2], [1, 0, 5]))
    assert far["num_gt"] == 2
    assert far["moved"] == pytest.approx(0.5)  # gt 2: (4, 4) -> (24, 8), 20 px > 16
    assert far["changed"] == pytest.approx(0.5)
    assert far["max_shift"] == pytest.approx(1.25)


def test_positive_samples_refuses_one_to_many_and_mismatched_sets():
    with pytest.raises(ValueError, match="several positives"):
        record([0, 0], [1, 2])
    with pytest.raises(ValueError, match="not the same set"):
        drift(record([0], [1]), positive_samples(
            torch.tensor([0]), torch.tensor([1]), POINTS, PER_LEVEL, STRIDES, GT[:1], PROBS,
            CLASSES[:1],
        ))  # fmt: skip


def save_untrained(rel_config, path, seed):
    torch.manual_seed(seed)
    model = build_model(rel_config, overrides=("model.num_classes=1",))
    if seed:  # build_model seeds 0: re-draw the head so that two checkpoints differ
        for p in model.head.parameters():
            p.data.normal_(0, 0.05)
    torch.save({"model": model.state_dict()}, path)
    return path


def run_tool(rel_config, checkpoints):
    return onenet_assignment_drift.main(
        [
            "--config",
            os.path.join(CONFIG_DIR, rel_config),
            "--checkpoints",
            *checkpoints,
            "--dataset",
            "coco_sample_person_tiny",
            "--device",
            "cpu",
            "scale=cpu",
            "model.num_classes=1",
        ]
    )


def test_tool_predefined_location_cost_pins_the_positive_at_the_nearest_point(tmp_path):
    """Location cost only on the grid points (Table 2 row "loc., pre-def."): the positive is the
    point of the gt's FPN level nearest its centre (Eq. 4, L1 on normalised coordinates), whatever
    the weights - so two different networks give the same positives, each checked by brute force."""
    config = "OneNet/fcos_o2o_loc_R_50_FPN_3x.py"
    checkpoints = [save_untrained(config, str(tmp_path / f"m{s}.pth"), s) for s in (0, 1)]
    result = run_tool(config, checkpoints)
    (d,) = result["drift"]
    assert d["num_gt"] > 0 and d["changed"] == 0.0 and d["max_shift"] == 0.0

    # brute force on the same inputs
    cfg, model = onenet_assignment_drift.load_model(
        os.path.join(CONFIG_DIR, config),
        checkpoints[0],
        ["scale=cpu", "model.num_classes=1"],
        "cpu",
    )
    mapper = onenet_assignment_drift.annotated_test_mapper(cfg)
    inputs = [mapper(copy.deepcopy(r)) for r in DatasetCatalog.get("coco_sample_person_tiny")]
    got = onenet_assignment_drift.record_positives(model, inputs)
    images = model.preprocess_image(inputs)
    features = model.backbone(images.tensor)
    anchors = model.anchor_generator([features[f] for f in model.head_in_features])
    level_of_point = torch.cat([torch.full((len(a),), i) for i, a in enumerate(anchors)])
    points = matchcost.box_centers(torch.cat([a.tensor for a in anchors]))
    expected = []
    for x, (h, w) in zip(inputs, images.image_sizes):
        boxes = x["instances"].gt_boxes.tensor
        levels = matchcost.gt_fpn_levels(boxes, model.assigner.scale_ranges)
        centers = matchcost.box_centers(boxes)
        for g in range(len(boxes)):
            dx, dy = (points - centers[g]).abs().unbind(1)
            cost = dx / w + dy / h
            cost[level_of_point != levels[g]] = float("inf")
            expected.append(int(cost.argmin()))
    assert got.index.tolist() == expected
    assert got.levels.tolist() == level_of_point[expected].tolist()
    assert result["checkpoints"][0]["matched"] == 1.0
    assert sum(result["checkpoints"][0]["per_level"]) == pytest.approx(1.0)


def test_tool_predicted_location_cost_follows_the_network(tmp_path):
    """Cost on the predicted boxes (row "pred."): two different networks place the positives
    differently; the same network twice gives no drift."""
    config = "OneNet/fcos_o2o_cls_R_50_FPN_3x.py"
    a, b = (save_untrained(config, str(tmp_path / f"m{s}.pth"), s) for s in (0, 1))
    same, changed = run_tool(config, [a, a, b])["drift"]
    assert same["changed"] == 0.0
    assert changed["num_gt"] == same["num_gt"] > 0 and changed["changed"] > 0.0


def test_norm_stats_modes():
    model = build_model("OneNet/fcos_o2o_cls_R_50_FPN_3x.py", overrides=("model.num_classes=1",))
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms  # the CPU variant's R18 trains its batch norm
    onenet_assignment_drift.use_norm_stats(model, "batch")
    assert all(m.training and m.momentum == 0.0 for m in norms)
    assert not model.head.training
    onenet_assignment_drift.use_norm_stats(model, "running")
    assert not any(m.training for m in model.modules())


def test_tool_refuses_a_one_to_many_model(tmp_path):
    config = "OneNet/fcos_o2m_R_50_FPN_3x.py"
    checkpoint = save_untrained(config, str(tmp_path / "m.pth"), 0)
    with pytest.raises(ValueError, match="one-to-one"):
        run_tool(config, [checkpoint, checkpoint])


def test_mapped_inputs_keep_the_boxes_and_drop_crowd_regions_as_training_does():
    from d2dense.engine import load_config

    cfg = load_config(
        os.path.join(CONFIG_DIR, "OneNet/fcos_o2o_cls_R_50_FPN_3x.py"),
        ["scale=cpu", "model.num_classes=1"],
        "cpu",
    ).cfg
    record = copy.deepcopy(DatasetCatalog.get("coco_sample_person_tiny")[0])
    num_boxes = len(record["annotations"])
    crowd = dict(record["annotations"][0], iscrowd=1)
    record["annotations"].append(crowd)
    (x,) = onenet_assignment_drift.mapped_inputs(cfg, [record])
    assert len(x["instances"]) == num_boxes
    # resized to the test short side (320 at CPU scale), boxes scaled with the image
    h, w = x["image"].shape[1:]
    assert min(h, w) == 320
    assert x["instances"].gt_boxes.tensor[:, 2].max() <= w
    unreadable = dict(record, file_name="/nonexistent/image.jpg")
    with pytest.raises(ValueError, match="nonexistent"):
        onenet_assignment_drift.mapped_inputs(cfg, [unreadable])
