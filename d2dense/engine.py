"""One way to load a config and a trained model for every entry point (train_net.py, tools/).

detectron2's own tools read either yacs (``DefaultPredictor``, ``demo.py``) or LazyConfig
(``lazyconfig_train_net.py``); ours accept both. A config file is a LazyConfig when it is a ``.py``
file or the ``config.yaml`` a LazyConfig run saves (lower-case ``model:`` with ``_target_``);
anything else is yacs. Overrides follow detectron2: ``key=value`` (lazy, including ``scale=cpu``)
or ``KEY VALUE`` pairs (yacs).
"""

import logging
import re
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence

import numpy as np
import torch

from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import LazyConfig, get_cfg, instantiate
from detectron2.data import MetadataCatalog
from detectron2.data import transforms as T

from .config import apply_scale, is_imagenet_backbone
from .utils import import_method_packages, yacs_config_adders

__all__ = ["is_lazy_config", "resolve_device", "LoadedConfig", "load_config", "Predictor"]

logger = logging.getLogger(__name__)


def is_lazy_config(path: str) -> bool:
    """``.py`` files, and the ``config.yaml`` a LazyConfig run saves (lower-case ``model`` with a
    ``_target_``), are LazyConfigs; other yaml files are yacs."""
    if path.endswith(".py"):
        return True
    with open(path) as f:
        text = f.read()  # not yaml.safe_load: saved LazyConfigs may hold python-tagged objects
    return bool(re.search(r"^model:\s*$", text, re.M)) and "_target_:" in text


def resolve_device(requested: str) -> str:
    if requested.startswith("cuda") and not torch.cuda.is_available():
        logger.warning(
            "device %s requested but CUDA is not available: running on the CPU", requested
        )
        return "cpu"
    return requested


@dataclass
class LoadedConfig:
    """A LazyConfig or yacs config with the few facts the tools need, read the same way for both."""

    cfg: Any
    lazy: bool
    path: str

    @property
    def device(self) -> str:
        return self.cfg.train.device if self.lazy else self.cfg.MODEL.DEVICE

    @property
    def weights(self) -> str:
        return self.cfg.train.init_checkpoint if self.lazy else self.cfg.MODEL.WEIGHTS

    @property
    def output_dir(self) -> str:
        return self.cfg.train.output_dir if self.lazy else self.cfg.OUTPUT_DIR

    @property
    def test_dataset(self) -> Optional[str]:
        if self.lazy:
            names = self.cfg.dataloader.test.dataset.names
        else:
            names = self.cfg.DATASETS.TEST
        if isinstance(names, str):
            return names
        return names[0] if len(names) else None

    @property
    def input_format(self) -> str:
        if self.lazy:
            return self.cfg.dataloader.test.mapper.get("image_format", "BGR")
        return self.cfg.INPUT.FORMAT

    def test_augmentations(self) -> List[T.Augmentation]:
        """The test-time resize (what the test loader applies before the model)."""
        if self.lazy:
            return list(instantiate(self.cfg.dataloader.test.mapper.augmentations))
        return [
            T.ResizeShortestEdge(
                [self.cfg.INPUT.MIN_SIZE_TEST] * 2, self.cfg.INPUT.MAX_SIZE_TEST, "choice"
            )
        ]

    def metadata(self):
        return MetadataCatalog.get(self.test_dataset) if self.test_dataset else None

    def build_model(self, weights: Optional[str] = None) -> torch.nn.Module:
        """The model in eval mode on the config's device, with ``weights`` (default: the config's
        ``train.init_checkpoint`` / ``MODEL.WEIGHTS``) loaded by detectron2's checkpointer."""
        if self.lazy:
            model = instantiate(self.cfg.model)
        else:
            from detectron2.modeling import build_model

            model = build_model(self.cfg)
        model.to(self.device).eval()
        weights = self.weights if weights is None else weights
        if weights:
            DetectionCheckpointer(model).load(weights)
            if is_imagenet_backbone(weights):
                # a paper config's default: a classification backbone, not a trained detector
                logger.warning(
                    "%s: %s holds ImageNet backbone weights only, the detection head is randomly "
                    "initialised; pass train.init_checkpoint= / MODEL.WEIGHTS of a trained model",
                    self.path,
                    weights,
                )
        else:
            logger.warning("%s: no weights given, the model is randomly initialised", self.path)
        return model


def _reapply_overrides(cfg, opts: List[str], config_file: str) -> None:
    """Apply ``key=value`` overrides to a scaled LazyConfig, except, with a warning naming them,
    those the scale must keep: a key whose parent it replaced (``model.backbone.bottom_up.*``
    once ``scale=cpu`` swapped in the R18-FPN, e.g. a paper row's R101 depth) and ImageNet
    weights for the backbone it trains from scratch."""
    from omegaconf import OmegaConf

    kept = []
    for o in opts:
        key, _, value = o.partition("=")
        key = key.lstrip("+~")
        parent = key.rsplit(".", 1)[0] if "." in key else ""
        if parent and OmegaConf.select(cfg, parent, default=None) is None:
            why = f"it replaces {parent}"
        elif (
            key == "train.init_checkpoint" and cfg.scale != "paper" and is_imagenet_backbone(value)
        ):
            why = "it trains its backbone from scratch"
        else:
            kept.append(o)
            continue
        logger.warning(
            "%s: override %r not applied at scale=%s: %s", config_file, o, cfg.scale, why
        )
    LazyConfig.apply_overrides(cfg, kept)


def load_config(config_file: str, opts: Sequence[str] = (), device: Optional[str] = None):
    """Load ``config_file`` (lazy or yacs) with detectron2-style overrides; registers every
    installed method package first so any meta-architecture resolves."""
    import d2dense.data  # noqa: F401  (registers the datasets)

    import_method_packages()
    opts = list(opts)
    if is_lazy_config(config_file):
        cfg = LazyConfig.load(config_file)
        # a run's saved config.yaml is already scaled (with the run's overrides): scaled again
        # only when the command line asks for another scale
        saved_scale = None if config_file.endswith(".py") else cfg.get("scale", "paper")
        cfg = LazyConfig.apply_overrides(cfg, opts)
        if cfg.get("scale", "paper") != saved_scale:
            apply_scale(cfg)
        # the command line wins over the scale's settings (scale=cpu train.max_iter=5000 trains
        # 5000 iterations, dataloader.train.total_batch_size=2 a batch of 2): apply it again
        _reapply_overrides(cfg, [o for o in opts if not o.startswith("scale=")], config_file)
        cfg.train.device = resolve_device(device or cfg.train.get("device", "cuda"))
        return LoadedConfig(cfg, True, config_file)
    bad = [o for o in opts[::2] if "=" in o]
    if bad:
        raise ValueError(
            f"{config_file} is a yacs config: overrides are 'KEY VALUE' pairs, got {bad} "
            "(key=value overrides, e.g. scale=cpu, are for LazyConfig .py files)"
        )
    cfg = get_cfg()
    for add_config in yacs_config_adders():
        add_config(cfg)
    cfg.merge_from_file(config_file)
    cfg.merge_from_list(opts)
    cfg.MODEL.DEVICE = resolve_device(device or cfg.MODEL.DEVICE)
    cfg.freeze()
    return LoadedConfig(cfg, False, config_file)


class Predictor:
    """detectron2's ``DefaultPredictor`` for both config systems: one image (HWC uint8 in
    ``image_format``, BGR by default as ``cv2.imread`` gives) -> ``Instances`` in its coordinates.
    """

    def __init__(self, loaded: LoadedConfig, model: Optional[torch.nn.Module] = None):
        self.loaded = loaded
        self.model = model if model is not None else loaded.build_model()
        self.augmentations = T.AugmentationList(loaded.test_augmentations())
        self.input_format = loaded.input_format

    def preprocess(self, image: np.ndarray, image_format: str = "BGR") -> dict:
        if image_format != self.input_format:
            image = image[:, :, ::-1]
        height, width = image.shape[:2]
        aug = T.AugInput(np.ascontiguousarray(image))
        self.augmentations(aug)
        tensor = torch.as_tensor(aug.image.astype("float32").transpose(2, 0, 1))
        return {"image": tensor, "height": height, "width": width}

    @torch.no_grad()
    def __call__(self, image: np.ndarray, image_format: str = "BGR"):
        return self.model([self.preprocess(image, image_format)])[0]["instances"]
