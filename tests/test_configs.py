"""Every config under configs/ loads, instantiates its model at both scales, and round-trips."""

import os

import pytest
import torch

from detectron2.config import LazyConfig, instantiate

from helpers import CONFIG_DIR, build_yacs_model, experiment_configs, load_config

CONFIGS = experiment_configs()


def test_configs_found():
    assert len(CONFIGS) >= 10


@pytest.mark.parametrize("path", CONFIGS)
def test_instantiate_paper_and_cpu_scale(path):
    cfg = load_config(path, scale="paper")
    assert cfg.scale == "paper"
    model = instantiate(cfg.model)
    assert model.num_classes == cfg.model.num_classes
    # paper scale keeps the paper's ResNet (under an FPN, or under YOLOF's encoder as ``net``)
    assert "bottom_up" in cfg.model.backbone or "net" in cfg.model.backbone
    cpu = load_config(path, scale="cpu")
    assert cpu.dataloader.train.total_batch_size == 4
    small = instantiate(cpu.model)
    n_small = sum(p.numel() for p in small.parameters())
    n_paper = sum(p.numel() for p in model.parameters())
    assert n_small < n_paper / 2


@pytest.mark.parametrize("path", CONFIGS)
def test_paper_schedule_and_optimizer_build(path):
    """The paper-scale LR schedule and optimizer instantiate and cover the whole run (the CPU
    scale replaces them, so only this catches a broken paper recipe)."""
    cfg = load_config(path, scale="paper")
    schedule = instantiate(cfg.lr_multiplier)
    for step in (0, cfg.train.max_iter // 2, cfg.train.max_iter - 1):
        assert 0 < schedule(step / cfg.train.max_iter) <= 1.0
    cfg.optimizer.params.model = torch.nn.Linear(2, 2)
    assert instantiate(cfg.optimizer).param_groups


@pytest.mark.parametrize("path", CONFIGS)
def test_detectron2_imagenet_weights_get_their_input_format(path):
    """detectron2's ImageNet checkpoints (MSRA R-50/101, FAIR X-101-32x8d) are Caffe2 models: BGR
    input with detectron2's BGR mean; the std is 1 (MSRA) or the ImageNet std in BGR order (FAIR),
    as detectron2's own configs for them."""
    cfg = load_config(path, scale="paper")
    weights = cfg.train.init_checkpoint
    if not weights.startswith("detectron2://ImageNetPretrained/"):
        return
    assert cfg.dataloader.train.mapper.image_format == "BGR", path
    assert list(cfg.model.pixel_mean) == pytest.approx([103.530, 116.280, 123.675]), path
    std = [57.375, 57.120, 58.395] if "/FAIR/" in weights else [1.0, 1.0, 1.0]
    assert list(cfg.model.pixel_std) == pytest.approx(std), path


@pytest.mark.parametrize("path", CONFIGS)
def test_nms_column_sees_every_candidate(path):
    """A model that leaves NMS to the evaluator returns more candidates than the evaluator keeps,
    so the "w/ NMS" column runs NMS before the cap (a model capped at the evaluator's 100 would
    make that column cap first and understate what NMS adds)."""
    cfg = load_config(path, scale="paper")
    if cfg.model.get("test_nms_thresh", 0.6) is not None or "evaluator" not in cfg.dataloader:
        return
    kept = cfg.dataloader.evaluator.get("max_dets_per_image", 100)
    assert cfg.model.max_detections_per_image >= max(1000, kept), path


@pytest.mark.parametrize("path", [p for p in CONFIGS if "R_50_FPN_3x" in p or "30k" in p][:6])
def test_config_yaml_round_trip(path, tmp_path):
    cfg = load_config(path, scale="cpu")
    out = os.path.join(tmp_path, "config.yaml")
    LazyConfig.save(cfg, out)
    again = LazyConfig.load(out)  # targets come back as dotted strings
    assert type(instantiate(again.model)) is type(instantiate(cfg.model))


YACS_CONFIGS = sorted(
    os.path.relpath(p, CONFIG_DIR)
    for p in __import__("glob").glob(os.path.join(CONFIG_DIR, "**", "*.yaml"), recursive=True)
    if not os.path.basename(p).startswith("Base-")
)


@pytest.mark.parametrize("path", YACS_CONFIGS)
def test_yacs_configs_build(path):
    cfg, model = build_yacs_model(path)
    assert type(model).__name__ == cfg.MODEL.META_ARCHITECTURE


def test_unknown_scale_is_a_clear_error():
    with pytest.raises(ValueError, match="scale"):
        load_config(CONFIGS[0], scale="tiny")
