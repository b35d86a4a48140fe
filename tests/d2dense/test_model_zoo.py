"""d2dense.model_zoo: names, configs, checkpoint URLs (exact strings, as detectron2 tests them),
publishing a run with detectron2's naming, loading it back, and the MODEL_ZOO.md table."""

import hashlib
import json
import os
import sys

import pytest
import torch

from detectron2.config import LazyConfig, instantiate

from d2dense import model_zoo
from helpers import REPO_ROOT, experiment_configs

sys.path.insert(0, os.path.join(REPO_ROOT, "tools"))
import model_zoo_table  # noqa: E402

NAME = "cpu/memorisation/DeFCN/poto_R_50_FPN_3x.py"


def test_every_experiment_config_and_cpu_model_is_a_name():
    names = set(model_zoo.list_models())
    assert set(experiment_configs()) <= names
    assert set(model_zoo.CPU_MODELS) <= names


@pytest.mark.parametrize("name", sorted(model_zoo.CPU_MODELS))
def test_cpu_model_configs_are_the_study_recipe(name):
    cfg = model_zoo.get_config(name)
    entry = model_zoo.CPU_MODELS[name]
    assert cfg.scale == "cpu"
    assert cfg.dataloader.train.dataset.names.startswith("pennfudan")
    assert cfg.train.max_iter == (entry["max_iter"] or 600)
    assert model_zoo.get_config_file(name).endswith(entry["config"])
    instantiate(cfg.model)


def test_unknown_and_unpublished_names_raise_clear_errors(tmp_path, monkeypatch):
    monkeypatch.setenv(model_zoo.MODEL_ZOO_ENV, str(tmp_path))
    with pytest.raises(RuntimeError, match="not a config"):
        model_zoo.get_config("DeFCN/nope.py")
    with pytest.raises(RuntimeError, match="not a CPU-scale model"):
        model_zoo.get_config("cpu/memorisation/DeFCN/nope.py")
    with pytest.raises(RuntimeError, match="convert_checkpoint"):
        model_zoo.get_checkpoint_url("DeFCN/poto_R_50_FPN_3x.py")
    with pytest.raises(RuntimeError, match="publish_checkpoint.py --name " + NAME):
        model_zoo.get_checkpoint_url(NAME)


def _fake_run(run_dir, name, ap=12.5, ap_nms=20.0):
    """A finished run's files, as train_net.py writes them."""
    os.makedirs(run_dir)
    cfg = model_zoo.get_config(name)
    LazyConfig.save(cfg, os.path.join(run_dir, "config.yaml"))
    torch.manual_seed(3)
    model = instantiate(cfg.model)
    torch.save(
        {"model": model.state_dict(), "optimizer": {"state": {}}, "iteration": 599},
        os.path.join(run_dir, "model_final.pth"),
    )
    with open(os.path.join(run_dir, "eval_results.json"), "w") as f:
        json.dump({"bbox": {"AP": ap, "AR@100": 40.0}, "bbox_nms": {"AP": ap_nms}}, f)
    with open(os.path.join(run_dir, "inference_timing.json"), "w") as f:
        json.dump({"total_ms": 250.0}, f)
    with open(os.path.join(run_dir, "metrics.json"), "w") as f:
        f.write('{"iteration": 19, "time": 2.0}\n{"iteration": 39, "time": 1.0}\n{"bbox/AP": 1}\n')
    return model


def test_publish_then_load_trained(tmp_path, monkeypatch):
    root = str(tmp_path / "zoo")
    monkeypatch.setenv(model_zoo.MODEL_ZOO_ENV, root)
    model = _fake_run(str(tmp_path / "run"), NAME)
    record = model_zoo.publish_checkpoint(NAME, str(tmp_path / "run"))

    url = model_zoo.get_checkpoint_url(NAME)
    with open(url, "rb") as f:
        md5 = hashlib.md5(f.read()).hexdigest()
    assert (
        url
        == f"{root}/cpu/memorisation/DeFCN/poto_R_50_FPN_3x/seed0_iter600/model_final_{md5[:6]}.pth"
    )
    saved = torch.load(url, weights_only=False)
    assert "optimizer" not in saved and saved["iteration"] == 599
    assert model_zoo.get_config(NAME, trained=True).train.init_checkpoint == url

    loaded = model_zoo.get(NAME, trained=True, device="cpu")
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    assert set(record) >= {"checkpoint", "config", "metrics", "eval_results", "inference_timing"}

    table = model_zoo_table.main(["--root", root]).splitlines()
    assert len(table) == 3
    cells = [c.strip() for c in table[2].strip("|").split("|")]
    assert cells[4:10] == ["12.5", "20.0", "7.5", "40.0", "1.50", "0.250"]
    assert cells[11] == "seed0_iter600"


def test_publish_refuses_a_run_of_another_recipe(tmp_path):
    _fake_run(str(tmp_path / "run"), "cpu/memorisation/DeFCN/poto_3dmf_aux_R_50_FPN_3x.py")
    with pytest.raises(ValueError, match="model.head.use_3dmf: run has True"):
        model_zoo.publish_checkpoint(NAME, str(tmp_path / "run"), str(tmp_path / "zoo"))
    assert not os.path.exists(tmp_path / "zoo" / "manifest.json")


def test_a_non_editable_install_without_configs_says_how_to_install(tmp_path, monkeypatch):
    """``configs/`` is read in place from the checkout; without it (a plain ``pip install .``) the
    model zoo names the missing folder and the editable install instead of listing nothing."""
    from d2dense.model_zoo import model_zoo as zoo

    monkeypatch.setattr(zoo, "_CONFIG_ROOT", str(tmp_path / "site-packages" / "configs"))
    for call in (zoo.list_models, lambda: zoo.get_config_file("DeFCN/poto_R_50_FPN_3x.py")):
        with pytest.raises(RuntimeError, match="pip install -e"):
            call()
