"""Shared test utilities: config loading at CPU scale and the end-to-end model mixin."""

import glob
import os

import torch

from detectron2.config import LazyConfig, instantiate
from detectron2.structures import Boxes, Instances
from detectron2.utils.events import EventStorage

import d2dense.data  # noqa: F401
from d2dense.config import apply_scale
from d2dense.utils import import_method_packages

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG_DIR = os.path.join(REPO_ROOT, "configs")
import_method_packages()


def experiment_configs():
    """Every experiment config (``configs/**.py`` outside ``configs/common``), repo-relative."""
    paths = glob.glob(os.path.join(CONFIG_DIR, "**", "*.py"), recursive=True)
    return sorted(
        os.path.relpath(p, CONFIG_DIR)
        for p in paths
        if os.sep + "common" + os.sep not in p and not os.path.basename(p).startswith("_")
    )


def load_config(rel_path, scale="cpu", overrides=()):
    if isinstance(overrides, str):
        raise TypeError(f"overrides must be a sequence of 'key=value' strings, got {overrides!r}")
    cfg = LazyConfig.load(os.path.join(CONFIG_DIR, rel_path))
    cfg = LazyConfig.apply_overrides(cfg, list(overrides))
    return apply_scale(cfg, scale)


def build_model(rel_path, scale="cpu", overrides=()):
    torch.manual_seed(0)
    return instantiate(load_config(rel_path, scale, overrides).model)


def build_yacs_model(rel_path):
    """(cfg, model) of a yacs config under configs/, with every d2dense config adder, on the CPU."""
    from detectron2.config import get_cfg
    from detectron2.modeling import build_model as build_d2_model

    from d2dense.utils import yacs_config_adders

    cfg = get_cfg()
    for add in yacs_config_adders():
        add(cfg)
    cfg.merge_from_file(os.path.join(CONFIG_DIR, rel_path))
    cfg.MODEL.DEVICE = "cpu"
    return cfg, build_d2_model(cfg)


def make_instances(h, w, boxes, classes):
    inst = Instances((h, w))
    inst.gt_boxes = Boxes(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4))
    inst.gt_classes = torch.tensor(classes, dtype=torch.long)
    return inst


class DenseModelE2EMixin:
    """A few training steps, inference on odd sizes and empty ground truth for one config.

    Subclasses set ``CONFIG_PATH`` (relative to configs/) and optionally ``OVERRIDES``. The model
    is the small CPU variant (scale=cpu): R18-FPN from scratch, 128-channel head.
    """

    CONFIG_PATH = None
    OVERRIDES = ()
    SIZES = ((200, 250), (200, 249))

    def setup_method(self):
        self.model = build_model(self.CONFIG_PATH, overrides=self.OVERRIDES)

    def _inputs(self, with_gt=True, crowded=False):
        torch.manual_seed(1)
        inputs = []
        for h, w in self.SIZES:
            d = {"image": torch.rand(3, h, w) * 255}
            if with_gt:
                if crowded:
                    xy = torch.rand(150, 2) * torch.tensor([w - 40.0, h - 40.0])
                    wh = 8 + torch.rand(150, 2) * 30
                    boxes = torch.cat([xy, xy + wh], dim=1).tolist()
                    d["instances"] = make_instances(h, w, boxes, [0] * 150)
                else:
                    k = self.model.num_classes
                    d["instances"] = make_instances(
                        h,
                        w,
                        [[10, 20, 90, 150], [100, 30, 240, 190], [5, 5, 12, 14]],
                        [0, 1 % k, 0],
                    )
            else:
                d["instances"] = make_instances(h, w, [], [])
            inputs.append(d)
        return inputs

    def _train_steps(self, inputs, steps=2):
        self.model.train()
        params = [p for p in self.model.parameters() if p.requires_grad]
        opt = torch.optim.SGD(params, lr=1e-3)
        with EventStorage():
            for _ in range(steps):
                losses = self.model(inputs)
                assert losses, "no losses"
                for k, v in losses.items():
                    assert torch.isfinite(v).all(), f"{k} is not finite: {v}"
                opt.zero_grad()
                sum(losses.values()).backward()
                opt.step()
        return losses

    def test_train_few_steps(self):
        losses = self._train_steps(self._inputs())
        assert all(k.startswith("loss_") for k in losses)

    def test_train_empty_gt(self):
        self._train_steps(self._inputs(with_gt=False), steps=1)

    def test_train_crowded(self):
        self._train_steps(self._inputs(crowded=True), steps=1)

    def test_eval_odd_sizes(self):
        self.model.eval()
        with torch.no_grad():
            out = self.model([{"image": torch.rand(3, h, w) * 255} for h, w in self.SIZES])
        for (h, w), o in zip(self.SIZES, out):
            inst = o["instances"]
            assert inst.image_size == (h, w)
            assert len(inst) <= self.model.max_detections_per_image
            if len(inst):
                assert torch.isfinite(inst.pred_boxes.tensor).all()
                assert (inst.scores[:-1] >= inst.scores[1:]).all() or self.model.test_nms_thresh
