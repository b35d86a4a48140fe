"""The score-gap tool on a tiny untrained CPU model and the bundled 4-image person sample."""

import copy
import json
import os
import sys

import numpy as np
import pytest
import torch
from detectron2.config import LazyCall as L
from detectron2.config import instantiate
from detectron2.data import transforms as T
from detectron2.structures import BoxMode
from PIL import Image

from helpers import CONFIG_DIR, REPO_ROOT, build_model, load_config

sys.path.insert(0, os.path.join(REPO_ROOT, "projects"))
import onenet_score_gap  # noqa: E402


def test_score_gap_tool_draws_both_models(tmp_path):
    overrides = ("model.num_classes=1",)
    checkpoint = os.path.join(tmp_path, "untrained.pth")
    torch.save(
        {
            "model": build_model(
                "OneNet/fcos_o2o_cls_R_50_FPN_3x.py", overrides=overrides
            ).state_dict()
        },
        checkpoint,
    )
    output = os.path.join(tmp_path, "score_gap.png")
    summary = onenet_score_gap.main(
        [
            "--model",
            "loc. only",
            os.path.join(CONFIG_DIR, "OneNet/fcos_o2o_loc_R_50_FPN_3x.py"),
            checkpoint,
            "--model",
            "loc. + cls.",
            os.path.join(CONFIG_DIR, "OneNet/fcos_o2o_cls_R_50_FPN_3x.py"),
            checkpoint,
            "--dataset",
            "coco_sample_person_tiny",
            "--output",
            output,
            "--iou",
            "0",  # an untrained model's boxes barely overlap: let every sample match
            "--device",
            "cpu",
            "scale=cpu",
            *overrides,
        ]
    )
    assert os.path.getsize(output) > 10000
    with open(os.path.join(tmp_path, "score_gap.json")) as f:
        assert json.load(f) == summary
    # same weights, same test-time network: both models see identical scores
    assert summary["loc. only"] == summary["loc. + cls."]
    assert summary["loc. only"]["matched_gt"] > 0 and summary["loc. only"]["missed_gt"] == 0


# ----------------------------------------------------------------------------- real IoU, resized
# The tool's mapper resizes a 120 x 135 (h x w) image to the 60 x 90 network input (padded to
# 64 x 96): y x 2, x x 1.5. Anisotropic on purpose, so a swapped h / w factor moves the boxes.
ORIGINAL_HW = (120, 135)
NETWORK_HW = (60, 90)


def _iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _brute_force_gaps(scores, boxes, gt_boxes, gt_classes, iou_thresh=0.5):
    """Definition 3.3 by loops: -> (gaps, top scores, normalised scores, missed) per matched gt."""
    scores, boxes = scores.double().tolist(), boxes.double().tolist()
    gaps, tops, normalized, missed = [], [], [], 0
    for gt, c in zip(gt_boxes, gt_classes):
        s = sorted(
            (sc[c] for sc, b in zip(scores, boxes) if _iou(gt, b) >= iou_thresh), reverse=True
        )
        if not s:
            missed += 1
            continue
        gaps.append(s[0] - (s[1] if len(s) > 1 else 0.0))
        tops.append(s[0])
        normalized += [x / s[0] for x in s]
    return gaps, tops, normalized, missed


@pytest.mark.parametrize(
    "config", ["OneNet/fcos_o2o_cls_R_50_FPN_3x.py", "OneNet/centernet_o2o_cls_R_50_DCN_270k.py"]
)
def test_score_gap_at_iou_half_on_a_resized_image(tmp_path, config):
    cfg = load_config(config, overrides=("model.num_classes=1",))
    cfg.dataloader.test.mapper.augmentations = [L(T.Resize)(shape=NETWORK_HW)]
    torch.manual_seed(0)
    model = instantiate(cfg.model)
    # boxes of a few strides / pixels (an untrained head's are ~0) and scores spread around 0.5
    torch.nn.init.constant_(model.head.bbox_pred.bias, 2.0 if "fcos" in config else 12.0)
    torch.nn.init.normal_(model.head.cls_score.weight, std=0.05)
    torch.nn.init.zeros_(model.head.cls_score.bias)
    model.eval()

    h0, w0 = ORIGINAL_HW
    file_name = os.path.join(tmp_path, "image.png")
    pixels = np.random.default_rng(0).integers(0, 256, (h0, w0, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(file_name)
    record = {"file_name": file_name, "image_id": 0, "height": h0, "width": w0}
    mapped = instantiate(cfg.dataloader.test.mapper)(copy.deepcopy(record))
    assert tuple(mapped["image"].shape[1:]) == NETWORK_HW

    # the model's own dense predictions at network resolution, scaled by original / resized
    with torch.no_grad():
        images = model.preprocess_image([mapped])
        assert images.image_sizes[0] == NETWORK_HW and images.tensor.shape[2:] != NETWORK_HW
        features = model.backbone(images.tensor)
        features = [features[f] for f in model.head_in_features]
        anchors, logits, deltas = model._flat_predictions(features, model.head(features))
        raw = model.box2box_transform.apply_deltas(
            deltas[0], torch.cat([a.tensor for a in anchors])
        )
    fx, fy = w0 / NETWORK_HW[1], h0 / NETWORK_HW[0]
    assert (fx, fy) == (1.5, 2.0)
    expected_boxes = raw * torch.tensor([fx, fy, fx, fy])
    expected_scores = logits[0].sigmoid()

    ((scores, boxes),) = model.dense_outputs([mapped])
    torch.testing.assert_close(scores, expected_scores)
    torch.testing.assert_close(boxes, expected_boxes)

    # gts in original coordinates: three near predicted boxes (several samples overlap each at IoU
    # >= 0.5), one tiny box no sample matches, and a crowd region (left out by the tool)
    order = expected_scores[:, 0].argsort(descending=True).tolist()
    picks = [order[0], order[len(order) // 3], order[len(order) // 2]]
    gt_xyxy = [[v + 3.0 * (k % 2) for k, v in enumerate(expected_boxes[i].tolist())] for i in picks]
    gt_xyxy.append([1.0, 1.0, 4.0, 4.0])
    record["annotations"] = [
        {"bbox": b, "bbox_mode": BoxMode.XYXY_ABS, "category_id": 0, "iscrowd": 0} for b in gt_xyxy
    ] + [{"bbox": [0, 0, w0, h0], "bbox_mode": BoxMode.XYXY_ABS, "category_id": 0, "iscrowd": 1}]

    result = onenet_score_gap.analyse(cfg, model, [record], 0.5)
    gaps, tops, normalized, missed = _brute_force_gaps(
        expected_scores, expected_boxes, gt_xyxy, [0] * len(gt_xyxy)
    )
    assert missed == 1 and len(gaps) == 3 and len(normalized) > 2 * len(gaps)  # duplicates exist
    assert result.num_missed == missed
    for actual, wanted in zip(
        (result.gaps, result.top_scores, result.normalized_scores), (gaps, tops, normalized)
    ):
        wanted = torch.tensor(wanted, dtype=torch.float64)
        torch.testing.assert_close(actual.double(), wanted, atol=1e-6, rtol=0)
    # the case tells coordinate errors apart: unscaled or h/w-swapped boxes give other matches
    for wrong in (raw, raw * torch.tensor([fy, fx, fy, fx])):
        wrong_result = _brute_force_gaps(expected_scores, wrong, gt_xyxy, [0] * len(gt_xyxy))
        assert wrong_result != (gaps, tops, normalized, missed)
