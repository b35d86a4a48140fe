"""Every config under configs/ loads, instantiates its model at both scales, and round-trips."""

import os

import pytest

from detectron2.config import LazyConfig, instantiate

from helpers import CONFIG_DIR, experiment_configs, load_config

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
    from detectron2.config import get_cfg
    from detectron2.modeling import build_model

    from d2dense.utils import yacs_config_adders

    cfg = get_cfg()
    for add in yacs_config_adders():
        add(cfg)
    cfg.merge_from_file(os.path.join(CONFIG_DIR, path))
    cfg.MODEL.DEVICE = "cpu"
    model = build_model(cfg)
    assert type(model).__name__ == cfg.MODEL.META_ARCHITECTURE


def test_unknown_scale_is_a_clear_error():
    with pytest.raises(ValueError, match="scale"):
        load_config(CONFIGS[0], scale="tiny")
