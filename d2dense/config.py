"""Config helpers shared by every method: yacs keys for the baselines and the small CPU variant.

Small CPU variant ("scale=cpu"): every LazyConfig in ``configs/`` keeps the paper's settings
(ImageNet R50/R101, 800 px, long schedules) and also runs at CPU scale with the single override
``scale=cpu`` on the ``train_net.py`` command line (``apply_scale`` is called by train_net.py and
by the tests). It follows ``../shared/cpu-study.md``: ResNet-18 + FPN from scratch with trainable BN,
128-channel heads, short side 320 (max 533), batch 4, SGD lr 0.01 with 100 warm-up iterations and
x0.1 at 80%, full-model gradient clipping at norm 10 (not in cpu-study.md: see apply_scale), datasets from ``../shared/data`` (or the bundled sample).
"""

from typing import Optional

from omegaconf import DictConfig, OmegaConf

from detectron2.config import CfgNode as CN
from detectron2.config import LazyCall as L
from detectron2.layers import ShapeSpec

from .modeling.resnet import small_resnet_fpn_backbone
from .solver import SGDFullModelGradClip

__all__ = [
    "add_fcos_config",
    "apply_scale",
    "cpu_lr_multiplier",
    "SCALES",
    "CPU_REGIMES",
    "regime_overrides",
]

SCALES = ("paper", "cpu")
CPU_WIDTH = 128
CPU_CLIP_NORM = 10.0
CPU_BOX_NEGATIVE_GRAD_SLOPE = 1.0
CPU_CHECKPOINT_PERIOD = 250  # iterations (about 20 min of a one-thread CPU run)


# ../shared/cpu-study.md's regimes: the data and iterations of a CPU-scale experiment. Used by
# projects/run_study.py and by the model zoo's CPU-scale entries (d2dense/model_zoo).
CPU_REGIMES = {
    "memorisation": dict(
        train="pennfudan_train16", test="pennfudan_train16", num_classes=1, max_iter=600
    ),
    "pennfudan": dict(train="pennfudan_train", test="pennfudan_val", num_classes=1, max_iter=1500),
    "coco_mini": dict(train="coco_mini_train", test="coco_mini_val", num_classes=80, max_iter=3000),
    # coco_mini's person-only view (137 train / 87 val images): a second held-out person set next
    # to Penn-Fudan, with COCO's crowds and small people. One class. From scratch at CPU scale it
    # is not learnt: AP < 1 at 600 iterations (onenet/README.md), AP < 2 at 1500 for RetinaNet,
    # YOLOF, FCOS and FCOS_PSS (yolof/README.md, pss/README.md).
    "coco_mini_person": dict(
        train="coco_mini_person_train", test="coco_mini_person_val", num_classes=1, max_iter=1500
    ),
    "sample": dict(
        train="coco_sample_person", test="coco_sample_person", num_classes=1, max_iter=200
    ),
}


def regime_overrides(regime: str, max_iter: Optional[int] = None, seed: int = 0) -> list:
    """LazyConfig overrides that turn a paper config into its CPU-scale run of ``regime``."""
    if regime not in CPU_REGIMES:
        raise ValueError(f"unknown CPU regime {regime!r}; known: {sorted(CPU_REGIMES)}")
    r = CPU_REGIMES[regime]
    return [
        "scale=cpu",
        f"dataloader.train.dataset.names={r['train']}",
        f"dataloader.test.dataset.names={r['test']}",
        f"model.num_classes={r['num_classes']}",
        f"train.max_iter={max_iter or r['max_iter']}",
        f"train.seed={seed}",
    ]


def add_fcos_config(cfg: CN) -> None:
    """yacs keys of the FCOS baseline (``MODEL.META_ARCHITECTURE: FCOS``)."""
    _C = cfg
    _C.MODEL.FCOS = CN()
    _C.MODEL.FCOS.NUM_CLASSES = 80
    _C.MODEL.FCOS.IN_FEATURES = ["p3", "p4", "p5", "p6", "p7"]
    _C.MODEL.FCOS.NUM_CONVS = 4
    _C.MODEL.FCOS.NORM = "GN"
    # learnable per-level box scale (FCOS / cvpods); off as in detectron2's FCOS
    _C.MODEL.FCOS.LEVEL_SCALES = False
    _C.MODEL.FCOS.PRIOR_PROB = 0.01
    _C.MODEL.FCOS.USE_CENTERNESS = True
    _C.MODEL.FCOS.CENTER_SAMPLING_RADIUS = 1.5
    _C.MODEL.FCOS.FOCAL_LOSS_ALPHA = 0.25
    _C.MODEL.FCOS.FOCAL_LOSS_GAMMA = 2.0
    _C.MODEL.FCOS.SCORE_THRESH_TEST = 0.05
    _C.MODEL.FCOS.TOPK_CANDIDATES_TEST = 1000
    # < 0: no NMS (raw candidates; the NMS-aware evaluator then reports both columns)
    _C.MODEL.FCOS.NMS_THRESH_TEST = 0.6
    _C.MODEL.FCOS.TEST_MAX_FILTER = []  # [phi, tau]: 3D max filtering post-processing
    # [k, iou]: NMS only within each level's k x k neighbourhoods (DeFCN Table 2)
    _C.MODEL.FCOS.TEST_SPATIAL_NMS = []


def is_imagenet_backbone(weights) -> bool:
    """Whether ``weights`` is one of detectron2's ImageNet classification checkpoints (a paper
    config's default ``train.init_checkpoint``): a backbone, not a trained detector."""
    return str(weights).startswith("detectron2://ImageNetPretrained/")


def cpu_lr_multiplier(max_iter: int, warmup_iters: int = 100, decay_at: float = 0.8):
    """cpu-study.md schedule: linear warm-up over ``warmup_iters``, x0.1 at ``decay_at`` of training."""
    from fvcore.common.param_scheduler import MultiStepParamScheduler

    from detectron2.solver import WarmupParamScheduler

    max_iter = max(int(max_iter), 1)
    return WarmupParamScheduler(
        MultiStepParamScheduler(
            values=[1.0, 0.1], milestones=[max(int(decay_at * max_iter), 1)], num_updates=max_iter
        ),
        warmup_length=min(warmup_iters / max_iter, 1.0),
        warmup_method="linear",
        warmup_factor=0.001,
    )


def _set_head_width(head: DictConfig, width: int) -> None:
    """Patch every channel-count field a d2dense/detectron2 head config may carry."""
    if "conv_dims" in head:
        head.conv_dims = [width] * len(head.conv_dims)
    if "input_shape" in head:
        shapes = head.input_shape
        n = len(shapes) if isinstance(shapes, (list, tuple)) or OmegaConf.is_list(shapes) else 5
        head.input_shape = [ShapeSpec(channels=width)] * n
    for key in ("in_channels", "channels", "feat_channels"):
        if key in head and isinstance(head[key], int):
            setattr(head, key, width)


def apply_scale(cfg: DictConfig, scale: Optional[str] = None) -> DictConfig:
    """Apply ``cfg.scale`` (``"paper"`` = leave as is, ``"cpu"`` = small CPU variant) in place.

    Idempotent, so a saved ``config.yaml`` of a CPU run can be loaded and scaled again. A model
    may define ``train.cpu_scale_hook`` (a dotted path to ``fn(cfg)``) for parts this generic patch
    cannot know about (e.g. YOLOF's encoder).
    """
    scale = scale or cfg.get("scale", "paper")
    if scale not in SCALES:
        raise ValueError(f"config key 'scale' must be one of {SCALES}, got {scale!r}")
    cfg.scale = scale
    if scale == "paper":
        return cfg
    model = cfg.model
    if "backbone" in model and "bottom_up" in model.backbone:
        p6p7_from = (
            model.backbone.top_block.get("in_feature", "res5")
            if "top_block" in model.backbone
            else "p5"
        )
        model.backbone = L(small_resnet_fpn_backbone)(
            depth=18, out_channels=CPU_WIDTH, norm="BN", p6p7_from=p6p7_from
        )
    if "head" in model:
        _set_head_width(model.head, CPU_WIDTH)
    hook = cfg.train.get("cpu_scale_hook")
    if hook:
        from detectron2.utils.registry import locate

        locate(hook)(cfg)

    dl = cfg.dataloader
    if dl.train.dataset.names in ("coco_2017_train", ("coco_2017_train",)):
        dl.train.dataset.names = "coco_mini_train"
    if dl.test.dataset.names in ("coco_2017_val", ("coco_2017_val",)):
        dl.test.dataset.names = "coco_mini_val"
    for aug in dl.train.mapper.augmentations:
        if aug.get("short_edge_length") is not None:
            aug.short_edge_length = (320,)
            aug.max_size = 533
            aug.sample_style = "choice"
    for aug in dl.test.mapper.augmentations:
        if aug.get("short_edge_length") is not None:
            aug.short_edge_length = 320
            aug.max_size = 533
    dl.train.total_batch_size = 4
    dl.train.num_workers = min(dl.train.get("num_workers", 2), 2)
    dl.test.num_workers = min(dl.test.get("num_workers", 2), 2)
    # cpu-study.md's optimiser for every model (SGD lr 0.01, momentum 0.9, wd 1e-4), plus full-model
    # gradient clipping: from scratch, the one-to-one detectors (loss normalised by ~1 positive per
    # object) otherwise diverge in the first hundreds of iterations (see d2dense/solver.py).
    opt = cfg.optimizer
    for key in [k for k in opt.keys() if k not in ("_target_", "params")]:
        del opt[key]
    opt._target_ = SGDFullModelGradClip
    opt.update(lr=0.01, momentum=0.9, weight_decay=1e-4, clip_norm=CPU_CLIP_NORM)
    if opt.get("params") is not None and opt.params.get("lr_factor_func") is not None:
        # a reduced backbone LR (YOLOF's 1/3, after DETR) is for an ImageNet-pretrained backbone;
        # the CPU variant trains its R18 from scratch, with the same LR as every compared model
        opt.params.lr_factor_func = None
    if is_imagenet_backbone(cfg.train.get("init_checkpoint", "")):
        # the paper's ImageNet R50/R101 weights do not fit R18; a checkpoint the user gave
        # (e.g. step one of PSS two-step training) is kept
        cfg.train.init_checkpoint = ""
    coder = model.get("box2box_transform")
    if coder is not None and "negative_grad_slope" in coder:
        # from scratch at lr 0.01 a side of the ltrb ReLU decoding can die at every positive
        # (observed: one-to-one FCOS with location cost only); a straight-through gradient below
        # 0 revives it, with the same boxes (d2dense/modeling/box_regression.py)
        coder.negative_grad_slope = CPU_BOX_NEGATIVE_GRAD_SLOPE
    cfg.train.max_iter = min(cfg.train.max_iter, 3000)
    cfg.train.eval_period = 0
    # frequent enough that a run cut off (a killed job, the end of a session) loses little when
    # resumed (projects/run_study.py, train_net.py --resume); a process keeps its last two
    cfg.train.checkpointer.period = min(max(cfg.train.max_iter // 2, 1), CPU_CHECKPOINT_PERIOD)
    cfg.train.checkpointer.max_to_keep = 2
    cfg.lr_multiplier = L(cpu_lr_multiplier)(max_iter="${train.max_iter}")
    return cfg
