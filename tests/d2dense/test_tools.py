"""The user-facing tools on the small CPU models: config/model loading for both config systems,
the batch-1 timer, tools/benchmark.py and tools/demo.py."""

import json
import logging
import os
import sys
import time

import numpy as np
import pytest
import torch
from torch import nn

from detectron2.config import instantiate
from detectron2.data import DatasetCatalog
from detectron2.data.detection_utils import read_image

from d2dense.benchmark import (
    InferenceTimer,
    count_parameters,
    format_table,
    summarize_times,
)
from d2dense.engine import Predictor, is_lazy_config, load_config
from helpers import CONFIG_DIR, REPO_ROOT

sys.path.insert(0, os.path.join(REPO_ROOT, "tools"))
import benchmark as benchmark_tool  # noqa: E402
import demo as demo_tool  # noqa: E402

DEFCN = os.path.join(CONFIG_DIR, "DeFCN/poto_3dmf_aux_R_50_FPN_3x.py")
FCOS = os.path.join(CONFIG_DIR, "Baselines/fcos_R_50_FPN_3x.py")
DEFCN_YACS = os.path.join(CONFIG_DIR, "DeFCN/yacs/poto_3dmf_aux_R_50_FPN_3x.yaml")
SMALL = [
    "scale=cpu",
    "dataloader.test.dataset.names=coco_sample_person_tiny",
    "model.num_classes=1",
]


# ------------------------------------------------------------------------------ timer
class _SleepyDetector(nn.Module):
    """Stand-in with the DenseDetector call structure: work, head, then post-processing."""

    def __init__(self, before_head, in_head, after_head):
        super().__init__()
        self.head = _Sleep(in_head)
        self.w = nn.Parameter(torch.zeros(1))
        self.before_head, self.after_head = before_head, after_head

    def forward(self, x):
        time.sleep(self.before_head)
        y = self.head(x)
        time.sleep(self.after_head)
        return y


class _Sleep(nn.Module):
    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds

    def forward(self, x):
        time.sleep(self.seconds)
        return x


def test_timer_splits_network_and_postprocessing():
    model = _SleepyDetector(0.15, 0.05, 0.02)
    with InferenceTimer(model) as timer:
        for _ in range(3):
            model(torch.zeros(1))
    assert len(timer.records) == 3
    for network_ms, post_ms in timer.records:
        assert network_ms >= 200  # before the head + the head itself
        assert 20 <= post_ms < 150  # only what follows the head
    model(torch.zeros(1))  # hooks are removed on exit
    assert len(timer.records) == 3


def test_timer_without_head_counts_everything_as_network():
    model = nn.Linear(2, 2)
    with InferenceTimer(model) as timer:
        model(torch.zeros(1, 2))
    assert timer.records[0][1] is None
    assert summarize_times(timer.records)["postprocess_ms"] is None


def test_summarize_times_hand_case():
    s = summarize_times([(10.0, 2.0), (30.0, 6.0), (20.0, 4.0)])
    assert s["network_ms"] == 20.0 and s["postprocess_ms"] == 4.0
    assert s["total_ms"] == 24.0 and s["fps"] == pytest.approx(1000 / 24)
    assert s["images"] == 3


def test_format_table_speed_up_against_the_first_row():
    row = dict(params_M=1.0, gflops=2.0, network_ms=40.0, postprocess_ms=10.0, nms=True)
    rows = {"a": dict(row, total_ms=50.0, fps=20.0), "b": dict(row, total_ms=25.0, fps=40.0)}
    table = format_table(rows, baseline="a")
    assert table.splitlines()[-1].endswith("| 2.00x |")
    assert table.splitlines()[-2].endswith("| 1.00x |")


# ------------------------------------------------------------------------------ configs
def test_lazy_and_yacs_configs_load_the_same_way():
    lazy = load_config(DEFCN, SMALL)
    assert lazy.lazy and lazy.test_dataset == "coco_sample_person_tiny"
    assert lazy.device == "cpu" or torch.cuda.is_available()
    yacs = load_config(DEFCN_YACS, ["DATASETS.TEST", "('coco_sample_person_tiny',)"])
    assert not yacs.lazy and yacs.test_dataset == "coco_sample_person_tiny"
    assert is_lazy_config(DEFCN) and not is_lazy_config(DEFCN_YACS)
    with pytest.raises(ValueError, match="yacs config"):
        load_config(DEFCN_YACS, ["scale=cpu"])


def test_command_line_overrides_win_over_the_cpu_scale(tmp_path):
    """scale=cpu sets the batch, LR, schedule and checkpoint period; the user's overrides of the
    same keys must not be silently replaced by it (in any order on the command line)."""
    opts = [
        "train.max_iter=5000",
        "dataloader.train.total_batch_size=2",
        "optimizer.lr=0.02",
        "train.eval_period=500",
        "train.checkpointer.period=100",
    ]
    for order in (SMALL + opts, opts + SMALL):
        cfg = load_config(DEFCN, order).cfg
        assert cfg.train.max_iter == 5000 and cfg.dataloader.train.total_batch_size == 2
        assert cfg.optimizer.lr == 0.02 and cfg.train.eval_period == 500
        assert cfg.train.checkpointer.period == 100
        assert cfg.lr_multiplier.max_iter == 5000  # the schedule follows it
        assert cfg.model.backbone.depth == 18  # still the CPU variant
    # the config.yaml such a run saves is already scaled: reloaded (--eval-only, --resume), it
    # keeps the values it was trained with
    from detectron2.config import LazyConfig

    saved = str(tmp_path / "config.yaml")
    LazyConfig.save(load_config(DEFCN, SMALL + opts).cfg, saved)
    cfg = load_config(saved).cfg
    assert cfg.train.max_iter == 5000 and cfg.dataloader.train.total_batch_size == 2
    assert cfg.optimizer.lr == 0.02 and cfg.train.checkpointer.period == 100
    # a paper row's R101 overrides: the backbone stays the CPU variant's R18 from scratch, with a
    # warning naming each override, and no stray key is added to it
    from d2dense import engine

    records = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    engine.logger.addHandler(handler)
    try:
        r101 = [
            "model.backbone.bottom_up.stages.depth=101",
            "train.init_checkpoint=detectron2://ImageNetPretrained/MSRA/R-101.pkl",
        ]
        cfg = load_config(DEFCN, SMALL + r101).cfg
    finally:
        engine.logger.removeHandler(handler)
    assert cfg.model.backbone.depth == 18 and "bottom_up" not in cfg.model.backbone
    assert cfg.train.init_checkpoint == ""  # the R18 trains from scratch
    for o in r101:
        assert any(o in r.getMessage() for r in records), o
    # a checkpoint of the user's own is kept
    assert load_config(DEFCN, SMALL + ["train.init_checkpoint=a.pth"]).weights == "a.pth"


@pytest.mark.parametrize("config,opts", [(DEFCN, SMALL), (DEFCN_YACS, [])])
def test_predictor_input_is_what_the_test_loader_feeds(config, opts):
    """Predictor.preprocess must reproduce the test mapper (resize, channel order, dtype)."""
    loaded = load_config(config, opts)
    d = DatasetCatalog.get("coco_sample_person_tiny")[0]
    predictor = Predictor(loaded, model=nn.Identity())
    ours = predictor.preprocess(read_image(d["file_name"], format="BGR"))
    if loaded.lazy:
        mapper = instantiate(loaded.cfg.dataloader.test.mapper)
    else:
        from detectron2.data import DatasetMapper

        mapper = DatasetMapper(loaded.cfg, is_train=False)
    theirs = mapper(dict(d))
    assert ours["image"].shape == theirs["image"].shape
    assert torch.equal(ours["image"], theirs["image"].float())
    assert (ours["height"], ours["width"]) == (d["height"], d["width"])


# ------------------------------------------------------------------------------ tools
def test_benchmark_tool_compares_models_in_one_run(tmp_path):
    out = tmp_path / "bench"
    payload = benchmark_tool.main(
        [
            "--config-file",
            FCOS,
            "--config-file",
            DEFCN,
            "--num-images",
            "2",
            "--warmup",
            "1",
            "--output",
            str(out),
            "--opts",
            *SMALL,
        ]
    )
    with open(out / "benchmark.json") as f:
        saved = json.load(f)
    assert saved["models"].keys() == payload["models"].keys()
    assert list(saved["models"]) == ["fcos_R_50_FPN_3x", "poto_3dmf_aux_R_50_FPN_3x"]
    assert len(saved["images"]) == 2
    for name, row in saved["models"].items():
        assert row["images"] == 2
        assert row["network_ms"] > 0 and row["postprocess_ms"] > 0, name
        assert row["gflops"] > 0 and row["nms_on_outputs_ms"] >= 0
        model = load_config(row["config"], SMALL).build_model()
        assert row["params_M"] == pytest.approx(count_parameters(model) / 1e6)


def test_benchmark_tool_fuse_norm_and_channels_last():
    payload = benchmark_tool.main(
        ["--config-file", FCOS, "--num-images", "1", "--warmup", "0", "--no-flops"]
        + ["--fuse-norm", "--channels-last", "--opts", *SMALL]
    )
    assert payload["fuse_norm"] and payload["channels_last"]
    row = payload["models"]["fcos_R_50_FPN_3x"]
    assert row["network_ms"] > 0
    # the CPU variant's R18 has batch norm: folded, each norm's two vectors become one conv bias
    unfused = load_config(FCOS, SMALL).build_model()
    assert row["params_M"] < count_parameters(unfused) / 1e6


def test_demo_draws_images_side_by_side(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    files = [d["file_name"] for d in DatasetCatalog.get("coco_sample_person_tiny")[:2]]
    for f in files:
        os.symlink(f, folder / os.path.basename(f))
    written = demo_tool.main(
        ["--config-file", DEFCN, "--input", str(folder), "--output", str(tmp_path / "out")]
        + ["--nms", "both", "--confidence-threshold", "0.0", "--opts", *SMALL]
    )
    assert sorted(map(os.path.basename, written)) == sorted(map(os.path.basename, files))
    for path, src in zip(sorted(written), sorted(files)):
        h, w = read_image(src).shape[:2]
        assert read_image(path).shape == (h, 2 * w, 3)  # raw | NMS


def test_demo_video(tmp_path):
    import cv2

    video = str(tmp_path / "clip.avi")
    frame = read_image(DatasetCatalog.get("coco_sample_person_tiny")[0]["file_name"], "BGR")
    frame = np.ascontiguousarray(frame[:160, :200])
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*"MJPG"), 5, (200, 160))
    for _ in range(3):
        writer.write(frame)
    writer.release()
    written = demo_tool.main(
        ["--config-file", DEFCN, "--video-input", video, "--output", str(tmp_path / "out")]
        + ["--opts", *SMALL]
    )
    capture = cv2.VideoCapture(written[0])
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 3


def test_demo_names_a_missing_input(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.jpg"):
        demo_tool.main(
            ["--config-file", DEFCN, "--input", str(tmp_path / "nope.jpg"), "--opts", *SMALL]
        )


def test_demo_refuses_inputs_that_would_overwrite_each_other(tmp_path):
    """Two folders holding the same file name: the second picture would silently replace the
    first in --output; the demo stops before running the model, naming both."""
    src = DatasetCatalog.get("coco_sample_person_tiny")[0]["file_name"]
    for cam in ("cam1", "cam2"):
        (tmp_path / cam).mkdir()
        os.symlink(src, tmp_path / cam / "0001.jpg")
    with pytest.raises(ValueError, match="cam1.*cam2"):
        demo_tool.main(
            ["--config-file", DEFCN, "--input", str(tmp_path / "cam1"), str(tmp_path / "cam2")]
            + ["--output", str(tmp_path / "out"), "--opts", *SMALL]
        )
    assert not (tmp_path / "out").exists()


def test_tools_warn_when_the_weights_are_only_an_imagenet_backbone(monkeypatch, caplog):
    """A paper config's default train.init_checkpoint is detectron2's ImageNet classifier: the demo,
    export and benchmark tools must say that the detection head is then random."""
    from detectron2.checkpoint import DetectionCheckpointer

    loaded = load_config(os.path.join(CONFIG_DIR, "DeFCN/poto_R_50_FPN_3x.py"), ["scale=cpu"])
    monkeypatch.setattr(DetectionCheckpointer, "load", lambda self, path, **kw: {})  # offline
    with caplog.at_level(logging.WARNING, logger="d2dense.engine"):
        loaded.build_model("detectron2://ImageNetPretrained/MSRA/R-50.pkl")
    assert "ImageNet backbone weights only" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="d2dense.engine"):
        loaded.build_model("output/run/model_final.pth")
    assert "ImageNet" not in caplog.text
