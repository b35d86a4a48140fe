"""The score-gap tool on a tiny untrained CPU model and the bundled 4-image person sample."""

import json
import os
import sys

import torch

from helpers import CONFIG_DIR, REPO_ROOT, build_model

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
