"""d2dense's model zoo: detectron2's ``model_zoo`` API for this repository's configs.

Names are config paths relative to ``configs/`` (``"DeFCN/poto_3dmf_aux_R_50_FPN_3x.py"``: the
paper-scale model) or ``"cpu/<regime>/<config path>"`` for the CPU-scale models of
``../shared/cpu-study.md`` (the config with ``scale=cpu`` and the regime's data and iterations,
see ``d2dense.config.CPU_REGIMES``).

Checkpoints follow detectron2's naming, ``<name>/<model_id>/model_final_<md5 prefix>.pth``, under a
zoo root: the environment variable ``D2DENSE_MODEL_ZOO`` (a folder or an http(s) URL), by default
``<repo>/output/model_zoo``. The root's ``manifest.json`` maps each published name to its files;
``publish_checkpoint`` (``tools/publish_checkpoint.py``) writes both from a training run. No
paper-scale model has been trained in this project, so paper-scale names have configs but no
checkpoint (convert an official release with ``tools/convert_checkpoint.py`` instead).
"""

import hashlib
import json
import os
import shutil
from typing import Dict, List, Optional

import torch
from omegaconf import OmegaConf

from ..config import regime_overrides

__all__ = [
    "CPU_MODELS",
    "MODEL_ZOO_ENV",
    "list_models",
    "model_zoo_root",
    "get_config_file",
    "get_config",
    "get_checkpoint_url",
    "get",
    "publish_checkpoint",
    "read_manifest",
]

MODEL_ZOO_ENV = "D2DENSE_MODEL_ZOO"
_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_CONFIG_ROOT = os.path.join(_REPO_ROOT, "configs")
_CPU_PREFIX = "cpu/"


def _config_root() -> str:
    """The repository's ``configs/``, which the model zoo reads in place (it is not packaged)."""
    if not os.path.isdir(_CONFIG_ROOT):
        raise RuntimeError(
            f"d2dense's configs are not next to the installed package (no {_CONFIG_ROOT}): install "
            "the repository in editable mode (pip install -e ., as `make install` does)"
        )
    return _CONFIG_ROOT


def _cpu(regime: str, config: str, max_iter: Optional[int] = None) -> tuple:
    return f"{_CPU_PREFIX}{regime}/{config}", dict(config=config, regime=regime, max_iter=max_iter)


# The CPU-scale models of the methods' evidence studies (projects/studies*.py "*_core"), each
# trained with `projects/run_study.py <study> --scale cpu --regime <regime>` (seed 0).
CPU_MODELS: Dict[str, dict] = dict(
    [
        _cpu("memorisation", "Baselines/fcos_wo_ctr_R_50_FPN_3x.py"),
        _cpu("memorisation", "DeFCN/poto_R_50_FPN_3x.py"),
        _cpu("memorisation", "DeFCN/poto_3dmf_aux_R_50_FPN_3x.py"),
        _cpu("memorisation", "PSS/fcos_R_50_FPN_3x.py"),
        _cpu("memorisation", "PSS/fcos_pss_R_50_FPN_3x.py"),
        _cpu("memorisation", "OneNet/fcos_o2o_loc_R_50_FPN_3x.py"),
        _cpu("memorisation", "OneNet/fcos_o2o_cls_predef_R_50_FPN_3x.py"),
        _cpu("pennfudan", "Baselines/retinanet_R_50_FPN_1x.py", max_iter=600),
        _cpu("pennfudan", "YOLOF/yolof_R_50_C5_1x.py", max_iter=600),
    ]
)


def list_models() -> List[str]:
    """Every name: each experiment config (paper scale) and each CPU-scale model."""
    names = []
    root = _config_root()
    for dirpath, _, files in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        if rel.split(os.sep)[0] == "common":
            continue
        for f in files:
            if f.endswith((".py", ".yaml")) and not f.startswith("_"):
                names.append(os.path.normpath(os.path.join(rel, f)).replace(os.sep, "/"))
    return sorted(names) + list(CPU_MODELS)


def model_zoo_root() -> str:
    return os.environ.get(MODEL_ZOO_ENV, os.path.join(_REPO_ROOT, "output", "model_zoo"))


def _entry(name: str) -> Optional[dict]:
    if name.startswith(_CPU_PREFIX):
        if name not in CPU_MODELS:
            raise RuntimeError(
                f"{name} is not a CPU-scale model of the zoo; known: {sorted(CPU_MODELS)}"
            )
        return CPU_MODELS[name]
    return None


def get_config_file(name: str) -> str:
    """Path of the config file of ``name`` (for a CPU-scale name, the paper config it scales)."""
    entry = _entry(name)
    path = os.path.join(_config_root(), entry["config"] if entry else name)
    if not os.path.isfile(path):
        raise RuntimeError(f"{name} is not a config of the d2dense model zoo (no {path})")
    return path


def _overrides(name: str) -> List[str]:
    entry = _entry(name)
    return regime_overrides(entry["regime"], entry["max_iter"]) if entry else []


def get_config(name: str, trained: bool = False):
    """The config of ``name`` (a LazyConfig, or a yacs CfgNode for ``.yaml`` names); with
    ``trained=True`` its weights (``train.init_checkpoint`` / ``MODEL.WEIGHTS``) point at the
    zoo checkpoint."""
    from ..engine import load_config

    loaded = load_config(get_config_file(name), _overrides(name))
    if trained:
        url = get_checkpoint_url(name)
        if loaded.lazy:
            loaded.cfg.train.init_checkpoint = url
        else:
            loaded.cfg.defrost()
            loaded.cfg.MODEL.WEIGHTS = url
            loaded.cfg.freeze()
    return loaded.cfg


def read_manifest(root: str) -> dict:
    from detectron2.utils.file_io import PathManager

    path = f"{root.rstrip('/')}/manifest.json"
    if not PathManager.exists(path) and not root.startswith(("http://", "https://")):
        return {}
    with PathManager.open(path) as f:
        return json.load(f)


def get_checkpoint_url(name: str) -> str:
    """URL (or path) of the published checkpoint of ``name``; a clear error when there is none."""
    get_config_file(name)  # unknown names fail here, as in detectron2
    root = model_zoo_root()
    published = read_manifest(root).get(name)
    if published is None:
        if name.startswith(_CPU_PREFIX):
            entry = CPU_MODELS[name]
            how = (
                f"train it (python train_net.py --config-file configs/{entry['config']} "
                f"{' '.join(_overrides(name))} train.output_dir=RUN) and publish it "
                f"(python tools/publish_checkpoint.py --name {name} --run-dir RUN)"
            )
        else:
            how = (
                "paper-scale models have not been trained in this project: convert an official "
                "release with tools/convert_checkpoint.py, or train one and publish it with "
                "tools/publish_checkpoint.py"
            )
        raise RuntimeError(
            f"no checkpoint of {name} is published under {root} ({MODEL_ZOO_ENV}): {how}"
        )
    return f"{root.rstrip('/')}/{published['checkpoint']}"


def get(name: str, trained: bool = False, device: Optional[str] = None) -> torch.nn.Module:
    """The model of ``name`` in eval mode, with the zoo weights when ``trained``."""
    from ..engine import load_config

    loaded = load_config(get_config_file(name), _overrides(name), device=device)
    weights = get_checkpoint_url(name) if trained else ""
    return loaded.build_model(weights=weights)


def _md5(path: str) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _flatten(node, prefix=""):
    """Scalar leaves of a config subtree as {dotted key: comparable value}; ``_target_`` classes and
    their dotted-string form compare equal, tuples equal lists."""
    from collections.abc import Mapping

    from omegaconf import DictConfig, ListConfig

    if isinstance(node, (Mapping, DictConfig)):
        out = {}
        for k in node:
            value = node[k]
            if k == "_target_" and not isinstance(value, str):
                value = f"{value.__module__}.{value.__qualname__}"
            out.update(_flatten(value, f"{prefix}{k}."))
        return out
    if isinstance(node, (list, tuple, ListConfig)):
        out = {}
        for i, v in enumerate(node):
            out.update(_flatten(v, f"{prefix}{i}."))
        return out
    if node is None or isinstance(node, (bool, int, float, str)):
        return {prefix[:-1]: node}
    return {prefix[:-1]: repr(node)}


def _config_differences(run, expected) -> dict:
    """Keys where a run's saved config departs from the zoo recipe: the model and the optimiser
    (every scalar, with ``_target_`` resolved to its defining class), the datasets, iterations and
    scale."""
    from detectron2.utils.registry import locate

    def targets(flat):
        out = {}
        for k, v in flat.items():
            if k.endswith("_target_") and isinstance(v, str):
                obj = locate(v)
                v = f"{obj.__module__}.{obj.__qualname__}"
            out[k] = v
        return out

    a = targets(_flatten(run.model, "model."))
    b = targets(_flatten(expected.model, "model."))
    for flat, cfg in ((a, run), (b, expected)):  # the optimiser recipe, not its parameter list
        opt = {k: v for k, v in cfg.optimizer.items() if k != "params"}
        flat.update(targets(_flatten(opt, "optimizer.")))
    for key in (
        "dataloader.train.dataset.names",
        "dataloader.test.dataset.names",
        "train.max_iter",
    ):
        a[key], b[key] = (OmegaConf.select(c, key) for c in (run, expected))
    a["scale"], b["scale"] = run.get("scale", "paper"), expected.get("scale", "paper")
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


def publish_checkpoint(name: str, run_dir: str, root: Optional[str] = None) -> dict:
    """Copy a finished run of ``name`` into the zoo (a local root): the weights (no optimizer
    state) as ``<name>/<model_id>/model_final_<md5[:6]>.pth``, its config.yaml, metrics.json,
    eval_results.json and inference_timing.json when present; record them in manifest.json.

    The run must be ``name``'s recipe: its saved config is compared key by key with the zoo's
    (model class, classes, datasets, iterations, scale) and a mismatch is an error naming the key.
    """
    from detectron2.config import LazyConfig

    root = root or model_zoo_root()
    if root.startswith(("http://", "https://")):
        raise ValueError(f"cannot publish to a URL ({root}); give a folder")
    weights = os.path.join(run_dir, "model_final.pth")
    saved_cfg = os.path.join(run_dir, "config.yaml")
    for path in (weights, saved_cfg):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{run_dir}: no {os.path.basename(path)} (not a finished run?)")
    expected = get_config(name)
    if not hasattr(expected, "model"):
        raise ValueError(f"{name}: only LazyConfig models are published")
    run = LazyConfig.load(saved_cfg)
    wrong = _config_differences(run, expected)
    if wrong:
        detail = "; ".join(f"{k}: run has {a!r}, {name} has {b!r}" for k, (a, b) in wrong.items())
        raise ValueError(f"{run_dir} is not a run of {name}: {detail}")

    state = torch.load(weights, map_location="cpu", weights_only=False)
    payload = {
        "model": state["model"] if "model" in state else state,
        "__author__": "d2dense model zoo",
        "iteration": state.get("iteration"),
    }
    seed = run.train.get("seed", -1)
    rel_dir = f"{os.path.splitext(name)[0]}/seed{seed}_iter{run.train.max_iter}"
    out_dir = os.path.join(root, rel_dir)
    os.makedirs(out_dir, exist_ok=True)
    tmp = os.path.join(out_dir, "model_final.pth.tmp")
    torch.save(payload, tmp)
    file_name = f"model_final_{_md5(tmp)[:6]}.pth"
    os.replace(tmp, os.path.join(out_dir, file_name))
    record = {"checkpoint": f"{rel_dir}/{file_name}"}
    for extra in ("config.yaml", "metrics.json", "eval_results.json", "inference_timing.json"):
        src = os.path.join(run_dir, extra)
        if os.path.isfile(src):
            shutil.copyfile(src, os.path.join(out_dir, extra))
            record[os.path.splitext(extra)[0]] = f"{rel_dir}/{extra}"
    manifest = read_manifest(root)
    manifest[name] = record
    with open(os.path.join(root, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
    return record
