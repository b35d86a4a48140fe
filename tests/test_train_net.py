"""train_net.py as a user runs it: train a few iterations, then --eval-only from the checkpoint,
for a LazyConfig and a yacs config, on the bundled sample."""

import json
import os
import subprocess
import sys

import pytest

from helpers import REPO_ROOT

SMALL_DATA = [
    "dataloader.train.dataset.names=coco_sample_person_tiny",
    "dataloader.test.dataset.names=coco_sample_person_tiny",
    "model.num_classes=1",
]


def run(args, tmp_path):
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "train_net.py"), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc.stdout + proc.stderr


def check_timing(out_dir):
    """--eval-only writes the batch-1 timing of every test image beside its results."""
    from detectron2.data import DatasetCatalog

    import d2dense.data  # noqa: F401

    with open(os.path.join(out_dir, "inference_timing.json")) as f:
        timing = json.load(f)
    assert timing["images"] == len(DatasetCatalog.get("coco_sample_person_tiny"))
    assert 0 < timing["network_ms"] and 0 < timing["postprocess_ms"]
    assert abs(timing["fps"] - 1000 / timing["total_ms"]) < 1e-6


def test_lazy_train_resumes_from_an_intermediate_checkpoint(tmp_path):
    """A run cut off after iteration 2 of 4 continues at iteration 2 with --resume (what
    projects/run_study.py does for an interrupted row). At CPU scale a 4-iteration run
    checkpoints every 2 iterations."""
    out = str(tmp_path / "run")
    args = [
        "--config-file",
        os.path.join(REPO_ROOT, "configs/Baselines/fcos_R_50_FPN_3x.py"),
        "scale=cpu",
        *SMALL_DATA,
        "train.max_iter=4",
        "dataloader.train.total_batch_size=2",
        "train.log_period=1",
        f"train.output_dir={out}",
    ]
    run(args, tmp_path)
    assert {"model_0000001.pth", "model_0000003.pth", "model_final.pth"} <= set(os.listdir(out))
    with open(os.path.join(out, "last_checkpoint"), "w") as f:
        f.write("model_0000001.pth")  # as if the job had been killed during iteration 3
    log = run(args[:2] + ["--resume"] + args[2:], tmp_path)
    assert "Starting training from iteration 2" in log
    with open(os.path.join(out, "metrics.json")) as f:
        records = [json.loads(line) for line in f]
    trained = [(r["iteration"], r["lr"]) for r in records if "total_loss" in r]
    assert [it for it, _ in trained] == [0, 1, 2, 3, 2, 3]  # the first run, then the resumed one
    assert trained[4:] == trained[2:4]  # the LR schedule continues where it was


def test_lazy_train_then_eval_only(tmp_path):
    out = str(tmp_path / "run")
    cfg = os.path.join(REPO_ROOT, "configs/DeFCN/poto_3dmf_aux_R_50_FPN_3x.py")
    run(
        [
            "--config-file",
            cfg,
            "scale=cpu",
            *SMALL_DATA,
            "train.max_iter=2",
            "dataloader.train.total_batch_size=2",
            "train.log_period=1",
            f"train.output_dir={out}",
        ],
        tmp_path,
    )
    for name in ("config.yaml", "log.txt", "metrics.json", "model_final.pth", "eval_results.json"):
        assert os.path.isfile(os.path.join(out, name)), name
    check_timing(out)
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(out))
    with open(os.path.join(out, "log.txt")) as f:
        assert "eta:" in f.read()
    # --eval-only from the saved config and checkpoint
    out2 = str(tmp_path / "eval")
    log = run(
        [
            "--config-file",
            os.path.join(out, "config.yaml"),
            "--eval-only",
            f"train.init_checkpoint={os.path.join(out, 'model_final.pth')}",
            f"train.output_dir={out2}",
        ],
        tmp_path,
    )
    with open(os.path.join(out2, "eval_results.json")) as f:
        res = json.load(f)
    for key in ("bbox", "bbox_nms", "nms_delta", "crowd", "crowd_nms"):
        assert key in res, key
    assert "copypaste" in log
    check_timing(out2)


def test_yacs_train_then_eval_only(tmp_path):
    out = str(tmp_path / "run")
    cfg = os.path.join(REPO_ROOT, "configs/DeFCN/yacs/poto_3dmf_aux_R_50_FPN_3x.yaml")
    small = [
        "MODEL.WEIGHTS",
        "",
        "MODEL.RESNETS.DEPTH",
        "18",
        "MODEL.RESNETS.RES2_OUT_CHANNELS",
        "64",
        "MODEL.RESNETS.NORM",
        "BN",
        "MODEL.BACKBONE.FREEZE_AT",
        "0",
        "MODEL.FPN.OUT_CHANNELS",
        "128",
        "MODEL.DEFCN.NUM_CLASSES",
        "1",
        "DATASETS.TRAIN",
        "('coco_sample_person_tiny',)",
        "DATASETS.TEST",
        "('coco_sample_person_tiny',)",
        "SOLVER.IMS_PER_BATCH",
        "2",
        "SOLVER.MAX_ITER",
        "2",
        "SOLVER.STEPS",
        "(1,)",
        "INPUT.MIN_SIZE_TRAIN",
        "(160,)",
        "INPUT.MAX_SIZE_TRAIN",
        "267",
        "INPUT.MIN_SIZE_TEST",
        "160",
        "INPUT.MAX_SIZE_TEST",
        "267",
        "DATALOADER.NUM_WORKERS",
        "0",
    ]
    run(["--config-file", cfg, *small, "OUTPUT_DIR", out], tmp_path)
    assert os.path.isfile(os.path.join(out, "model_final.pth"))
    # the final evaluation of training writes its results and timing, as the LazyConfig route
    with open(os.path.join(out, "eval_results.json")) as f:
        assert "bbox_nms" in json.load(f)
    check_timing(out)
    out2 = str(tmp_path / "eval")
    run(
        [
            "--config-file",
            cfg,
            "--eval-only",
            *small,
            "MODEL.WEIGHTS",
            os.path.join(out, "model_final.pth"),
            "OUTPUT_DIR",
            out2,
        ],
        tmp_path,
    )
    with open(os.path.join(out2, "eval_results.json")) as f:
        assert "bbox_nms" in json.load(f)
    check_timing(out2)


def test_bad_config_key_names_the_key(tmp_path):
    cfg = os.path.join(REPO_ROOT, "configs/DeFCN/poto_R_50_FPN_3x.py")
    proc = subprocess.run(
        [
            sys.executable,
            os.path.join(REPO_ROOT, "train_net.py"),
            "--config-file",
            cfg,
            "scale=huge",
            f"train.output_dir={tmp_path}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    # the message, not just the word (the traceback through apply_scale always holds "scale")
    assert proc.returncode != 0 and "config key 'scale' must be one of" in proc.stderr
    assert "'huge'" in proc.stderr


def test_frozen_norm_without_weights_is_refused(tmp_path):
    """A paper-scale config (FrozenBN backbone) with no ImageNet checkpoint would silently train
    from random weights; train_net.py stops before building the data, naming the key."""
    proc = subprocess.run(
        [
            sys.executable,
            os.path.join(REPO_ROOT, "train_net.py"),
            "--config-file",
            os.path.join(REPO_ROOT, "configs/YOLOF/yolof_X_101_64x4d_C5_1x.py"),
            f"train.output_dir={tmp_path}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, CUDA_VISIBLE_DEVICES=""),
    )
    assert proc.returncode != 0
    assert "train.init_checkpoint is empty" in proc.stderr and "frozen" in proc.stderr


def test_start_weights_check(tmp_path):
    import torch
    from detectron2.layers import FrozenBatchNorm2d

    from train_net import check_start_weights

    frozen = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), FrozenBatchNorm2d(4))
    trainable = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    kw = dict(eval_only=False)
    with pytest.raises(ValueError, match="MODEL.WEIGHTS is empty.*frozen"):
        check_start_weights(frozen, "", "MODEL.WEIGHTS", **kw)
    check_start_weights(trainable, "", "MODEL.WEIGHTS", **kw)  # from scratch, trainable BN
    check_start_weights(frozen, "w.pth", "MODEL.WEIGHTS", **kw)
    # --resume with a last checkpoint in the output dir: it provides the weights
    with pytest.raises(ValueError, match="frozen"):
        check_start_weights(frozen, "", "MODEL.WEIGHTS", eval_only=False, resume_dir=str(tmp_path))
    (tmp_path / "last_checkpoint").write_text("model_0000099.pth")
    check_start_weights(frozen, "", "MODEL.WEIGHTS", eval_only=False, resume_dir=str(tmp_path))
    with pytest.raises(ValueError, match="--eval-only needs weights: set train.init_checkpoint"):
        check_start_weights(trainable, "", "train.init_checkpoint", eval_only=True)


def test_num_gpus_without_cuda_runs_one_process_and_says_so(monkeypatch, caplog):
    import importlib.util

    import torch

    spec = importlib.util.spec_from_file_location(
        "train_net", os.path.join(REPO_ROOT, "train_net.py")
    )
    train_net = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_net)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with caplog.at_level("WARNING", logger="d2dense"):
        assert train_net.worker_count(8) == 1
    assert "--num-gpus 8" in caplog.text and "CUDA is not available" in caplog.text
    caplog.clear()
    assert train_net.worker_count(1) == 1 and not caplog.text
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert train_net.worker_count(8) == 8
