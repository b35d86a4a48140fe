"""YOLOF studies: Tables 4, 5a-e, 7, Fig. 1 encoders and the evidence rows, as (label, config, overrides).

Every row runs at paper scale or with ``--scale cpu`` (projects/run_study.py); the YOLOF configs'
``train.cpu_scale_hook`` makes the CPU variant R18 C5 with a 256-channel encoder / decoder.
"""

from collections import OrderedDict

__all__ = ["STUDIES", "LAYOUTS"]

Y = "YOLOF/"
BASE = Y + "yolof_R_50_C5_1x.py"


def _row(label, config, overrides=()):
    return (label, config, list(overrides))


def _encoder(blocks, dilations, shortcut=True):
    return [
        f"model.backbone.num_residual_blocks={blocks}",
        f"model.backbone.block_dilations=[{','.join(str(d) for d in dilations)}]",
        f"model.backbone.use_shortcut={shortcut}",
    ]


STUDIES = OrderedDict()

# Table 4: Dilated Encoder x Uniform Matching (w/o encoder = projector only; w/o uniform = Max-IoU).
STUDIES["yolof_table4"] = [
    _row("w/o encoder, w/o uniform", Y + "yolof_wo_encoder_max_iou_R_50_C5_1x.py"),
    _row("encoder, w/o uniform", Y + "yolof_max_iou_R_50_C5_1x.py"),
    _row("w/o encoder, uniform", Y + "yolof_wo_encoder_R_50_C5_1x.py"),
    _row("encoder, uniform (YOLOF)", BASE),
]

# Table 5a: number of residual blocks, no dilation (its N=4 row equals Table 5b's 1,1,1,1 row).
STUDIES["yolof_table5a"] = [_row(f"N={n}", BASE, _encoder(n, [1] * n)) for n in (0, 2, 4, 6, 8, 10)]

# Table 5b: dilations of the 4 blocks.
STUDIES["yolof_table5b"] = [
    _row(f"dilations {','.join(map(str, d))}", BASE, _encoder(4, d))
    for d in ((1, 1, 1, 1), (2, 2, 2, 2), (3, 3, 3, 3), (1, 2, 3, 4), (2, 4, 6, 8), (3, 6, 9, 12))
]

# Table 5c: shortcut on / off, with and without dilations.
STUDIES["yolof_table5c"] = [
    _row(f"dilations {','.join(map(str, d))} shortcut={s}", BASE, _encoder(4, d, s))
    for d in ((2, 4, 6, 8), (1, 1, 1, 1))
    for s in (True, False)
]

# Table 5d: k of Uniform Matching.
STUDIES["yolof_table5d"] = [
    _row(f"top{k}", BASE, [f"model.assigner.topk={k}"]) for k in (1, 2, 3, 4, 5)
]

# Table 5e: matching methods.
STUDIES["yolof_table5e"] = [
    _row("Max-IoU", Y + "yolof_max_iou_R_50_C5_1x.py"),
    _row("ATSS (k=9)", Y + "yolof_atss_R_50_C5_1x.py", ["model.assigner.atss_topk=9"]),
    _row("ATSS (k=15)", Y + "yolof_atss_R_50_C5_1x.py"),
    _row("Hungarian", Y + "yolof_hungarian_R_50_C5_1x.py"),
    _row("Uniform", BASE),
]

# Table 8: k of ATSS.
STUDIES["yolof_table8"] = [
    _row(f"ATSS k={k}", Y + "yolof_atss_R_50_C5_1x.py", [f"model.assigner.atss_topk={k}"])
    for k in (5, 7, 9, 11, 13, 15, 17, 19)
]


def _anchors(num_sizes, ratios):
    octaves = [2 ** (i / 3) for i in range(num_sizes)]
    sizes = [round(area * o, 2) for area in (32, 64, 128, 256, 512) for o in octaves]
    return [
        f"model.anchor_generator.sizes=[[{','.join(str(s) for s in sizes)}]]",
        f"model.anchor_generator.aspect_ratios=[{','.join(str(r) for r in ratios)}]",
        f"model.head.num_anchors={len(sizes) * len(ratios)}",
    ]


# Table 7: anchors per location (5 areas x sizes x aspect ratios).
STUDIES["yolof_table7"] = [
    _row(f"5 areas, {n} sizes, {len(r)} ratios", BASE, _anchors(n, r))
    for n, r in ((1, (1.0,)), (1, (0.5, 1.0, 2.0)), (3, (1.0,)), (3, (0.5, 1.0, 2.0)))
]

# Fig. 1 / Fig. 3: RetinaNet with the four encoder families.
STUDIES["yolof_fig1_encoders"] = [
    _row("MiMo (FPN)", "Baselines/retinanet_R_50_FPN_1x.py"),
    _row("SiMo", Y + "encoders/retinanet_simo_R_50_1x.py"),
    _row("MiSo", Y + "encoders/retinanet_miso_R_50_1x.py"),
    _row("SiSo", Y + "encoders/retinanet_siso_R_50_1x.py"),
]

# Table 1 / Table 9: the model zoo rows. Table 1's "RetinaNet+" rows (GIoU, GN heads, implicit
# objectness) and its 3x multi-scale X101 rows have no config.
STUDIES["yolof_table1"] = [
    _row("RetinaNet R50-FPN", "Baselines/retinanet_R_50_FPN_1x.py"),
    _row(
        "RetinaNet R101-FPN",
        "Baselines/retinanet_R_50_FPN_1x.py",
        [
            "model.backbone.bottom_up.stages.depth=101",
            "train.init_checkpoint=detectron2://ImageNetPretrained/MSRA/R-101.pkl",
        ],
    ),
    _row("YOLOF R50-C5", BASE),
    _row("YOLOF R101-C5", Y + "yolof_R_101_C5_1x.py"),
    _row("YOLOF X101-64x4d-C5", Y + "yolof_X_101_64x4d_C5_1x.py"),
    _row("YOLOF R50-DC5", Y + "yolof_R_50_DC5_1x.py"),
    _row("YOLOF R101-DC5", Y + "yolof_R_101_DC5_1x.py"),
]

# Evidence of the issue: YOLOF vs RetinaNet (small variants with --scale cpu), AP and APs/m/l.
STUDIES["yolof_core"] = [
    r for r in STUDIES["yolof_table1"] if r[0] in ("RetinaNet R50-FPN", "YOLOF R50-C5")
]

# Every YOLOF table reads the detector with NMS 0.6 (Sec. 5): AP, AP50, AP75, APs / APm / APl.
LAYOUTS = {
    name: tuple(f"bbox_nms/{m}" for m in ("AP", "AP50", "AP75", "APs", "APm", "APl"))
    for name in STUDIES
}
