"""OneNet ("What Makes for End-to-End Object Detection?") studies: the rows of Tables 1-3 as
(row label, config, overrides); loaded by projects/studies.py. Every row reports AP without NMS,
AP with NMS and Delta (the paper's "AP" and "AP(+NMS)" columns)."""

from collections import OrderedDict

O = "OneNet/"
DETECTORS = (
    ("RetinaNet", "retinanet", "R_50_FPN_3x"),
    ("CenterNet", "centernet", "R_50_DCN_270k"),
    ("FCOS", "fcos", "R_50_FPN_3x"),
)

STUDIES = OrderedDict()
# Tables 1-2: "AP" (w/o NMS), "AP(+NMS)" and their difference; Table 3 below.
LAYOUTS = {}

# Table 1: one-to-many (the original detectors) vs one-to-one (location cost on the pre-defined
# candidates, the detectors' own criterion).
STUDIES["onenet_table1"] = [
    row
    for name, prefix, suffix in DETECTORS
    for row in (
        (f"{name} (1:many)", f"{O}{prefix}_o2m_{suffix}.py", []),
        (f"{name} + o2o", f"{O}{prefix}_o2o_loc_{suffix}.py", []),
    )
]

# Table 2: one-to-one with location cost only (pre-def.), + classification cost (pre-def.), and
# + classification cost with the predicted location cost (the end-to-end detectors).
STUDIES["onenet_table2"] = [
    row
    for name, prefix, suffix in DETECTORS
    for row in (
        (f"{name} + o2o loc. (pre-def.)", f"{O}{prefix}_o2o_loc_{suffix}.py", []),
        (f"{name} + o2o loc. + cls. (pre-def.)", f"{O}{prefix}_o2o_cls_predef_{suffix}.py", []),
        (f"{name} + o2o loc. + cls. (pred.)", f"{O}{prefix}_o2o_cls_{suffix}.py", []),
    )
]

# Min cost per gt (the paper, Dec-2020 OneNet) vs exact Hungarian matching (OneNet HEAD).
STUDIES["onenet_solver"] = [
    row
    for name, prefix, suffix in DETECTORS
    for row in (
        (f"{name} min cost", f"{O}{prefix}_o2o_cls_{suffix}.py", []),
        (f"{name} Hungarian", f"{O}{prefix}_o2o_cls_hungarian_{suffix}.py", []),
    )
]

# Min cost vs Hungarian on the pre-defined location cost: with location cost only, two gts whose
# centres are nearest to the same point share it under min cost (no "sample conflict" avoidance);
# the only public pre-defined FCOS matcher (OneNet's loss_predefine.py) uses Hungarian.
STUDIES["onenet_predef_solver"] = [
    row
    for name, prefix, suffix in DETECTORS
    for kind, label in (("loc", "loc."), ("cls_predef", "loc. + cls."))
    for row in (
        (f"{name} + o2o {label} (pre-def.) min cost", f"{O}{prefix}_o2o_{kind}_{suffix}.py", []),
        (
            f"{name} + o2o {label} (pre-def.) Hungarian",
            f"{O}{prefix}_o2o_{kind}_{suffix}.py",
            ["model.assigner.solver=hungarian"],
        ),
    )
]

# Location cost only on the predicted boxes: not a row of the paper, it separates "predicted vs
# pre-defined" from "with vs without classification cost".
STUDIES["onenet_pred_loc_only"] = [
    (
        f"{name} + o2o loc. (pred.)",
        f"{O}{prefix}_o2o_cls_{suffix}.py",
        ["model.assigner.weight_class=0.0"],
    )
    for name, prefix, suffix in DETECTORS
]

# Table 3: CrowdHuman (AP50 / mMR / recall, w/o and w/ NMS).
STUDIES["onenet_table3"] = [
    ("RetinaNet (NMS)", O + "crowdhuman/retinanet_o2m_R_50_FPN_47k.py", []),
    ("RetinaNet + o2o + cls.", O + "crowdhuman/retinanet_o2o_cls_R_50_FPN_47k.py", []),
    ("FCOS (NMS)", O + "crowdhuman/fcos_o2m_R_50_FPN_47k.py", []),
    ("FCOS + o2o + cls.", O + "crowdhuman/fcos_o2o_cls_R_50_FPN_47k.py", []),
]
LAYOUTS["onenet_table3"] = tuple(
    f"{s}/{m}" for s in ("crowd", "crowd_nms") for m in ("AP50", "mMR", "recall")
)

# The evidence (the Table 2 effect on FCOS): one-to-one with location cost only vs with
# classification cost on the same pre-defined location cost, and the end-to-end FCOS.
STUDIES["onenet_core"] = [STUDIES["onenet_table2"][i] for i in (6, 7, 8)]
for _name in STUDIES:
    LAYOUTS.setdefault(_name, ("bbox/AP", "bbox_nms/AP", "delta/AP", "bbox/AP50", "bbox/AR"))
