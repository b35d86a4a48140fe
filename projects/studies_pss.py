"""PSS studies: the rows of the paper's Tables 1-9 as (row label, config, overrides).

Loaded by projects/studies.py. A PSS model has two predictions: "end-to-end pred." (the PSS score,
no NMS) and "one-to-many pred." (the PSS branch discarded, scored as FCOS / ATSS, with NMS). The
study runner evaluates one prediction per row, so a "one-to-many" row re-runs its end-to-end row
with ``model.inference_mode=one_to_many`` (training is unchanged, only inference differs): read
its "AP w/ NMS" column; read the end-to-end row's "AP w/o NMS" column.
"""

from collections import OrderedDict
from itertools import product

__all__ = ["STUDIES"]

P = "PSS/"
# Discard the PSS branch: FCOS / ATSS scores, raw candidates (the evaluator applies NMS 0.6).
ONE_TO_MANY = ["model.inference_mode=one_to_many", "model.max_detections_per_image=1000"]


def with_one_to_many(rows):
    """Each row, followed by the same trained model evaluated with its one-to-many prediction."""
    out = []
    for label, config, overrides in rows:
        out += [
            (label, config, overrides),
            (f"{label} | one-to-many pred.", config, overrides + ONE_TO_MANY, label),
        ]
    return out


STUDIES = OrderedDict()

# Table 1 (R50 rows): baselines with NMS vs the NMS-free models.
STUDIES["pss_table1"] = [
    ("FCOS", P + "fcos_R_50_FPN_3x.py", []),
    ("ATSS", P + "atss_R_50_FPN_3x.py", []),
    ("FCOS_PSS", P + "fcos_pss_R_50_FPN_3x.py", []),
    ("ATSS_PSS", P + "atss_pss_R_50_FPN_3x.py", []),
]

# The evidence: FCOS vs FCOS_PSS, end-to-end and one-to-many predictions.
STUDIES["pss_core"] = [STUDIES["pss_table1"][0]] + with_one_to_many([STUDIES["pss_table1"][2]])

# Table 2: stop-grad off / on.
STUDIES["pss_table2"] = with_one_to_many(
    [
        ("FCOS_PSS w/o stop-grad", P + "fcos_pss_wo_stop_grad_R_50_FPN_3x.py", []),
        ("FCOS_PSS stop-grad", P + "fcos_pss_R_50_FPN_3x.py", []),
        ("FCOS_PSS stop-grad on PSS input only", P + "fcos_pss_score_grad_R_50_FPN_3x.py", []),
        ("ATSS_PSS w/o stop-grad", P + "atss_pss_wo_stop_grad_R_50_FPN_3x.py", []),
        ("ATSS_PSS stop-grad", P + "atss_pss_R_50_FPN_3x.py", []),
        ("ATSS_PSS stop-grad on PSS input only", P + "atss_pss_score_grad_R_50_FPN_3x.py", []),
    ]
)

# Table 3: end-to-end vs two-step (step one = the ATSS row; step two loads its model_final.pth).
STUDIES["pss_table3"] = [
    ("ATSS_PSS end-to-end", P + "atss_pss_R_50_FPN_3x.py", []),
    ("ATSS step one", P + "atss_R_50_FPN_3x.py", []),
    (
        "ATSS_PSS two-step",
        P + "atss_pss_two_step_R_50_FPN_1x.py",
        ["train.init_checkpoint=STUDY_DIR/ATSS_step_one/model_final.pth"],
    ),
]

# Table 4: PSS on the regression vs the classification tower.
STUDIES["pss_table4"] = with_one_to_many(
    [
        ("FCOS_PSS on regress.", P + "fcos_pss_R_50_FPN_3x.py", []),
        ("FCOS_PSS on classif.", P + "fcos_pss_cls_branch_R_50_FPN_3x.py", []),
        ("ATSS_PSS on regress.", P + "atss_pss_R_50_FPN_3x.py", []),
        ("ATSS_PSS on classif.", P + "atss_pss_cls_branch_R_50_FPN_3x.py", []),
    ]
)

# Table 5: 1 / 2 / 3 conv layers in the PSS branch.
STUDIES["pss_table5"] = with_one_to_many(
    [
        (f"{name} {n} conv", P + f"{config}_R_50_FPN_3x.py", [f"model.head.pss_num_convs={n}"])
        for (name, config), n in product(
            (("FCOS_PSS", "fcos_pss"), ("ATSS_PSS", "atss_pss")), (1, 2, 3)
        )
    ]
)

# Table 6: with / without the center-ness branch (centerness still weights the GIoU loss).
STUDIES["pss_table6"] = with_one_to_many(
    [
        (f"{name} ctr={ctr}", P + f"{config}_R_50_FPN_3x.py", [f"model.head.use_centerness={ctr}"])
        for (name, config), ctr in product(
            (("FCOS_PSS", "fcos_pss"), ("ATSS_PSS", "atss_pss")), (False, True)
        )
    ]
)

# Table 7: lambda_1.
STUDIES["pss_table7"] = with_one_to_many(
    [
        (f"lambda1={w}", P + "fcos_pss_R_50_FPN_3x.py", [f"model.pss_loss_weight={w}"])
        for w in (0.5, 1.0, 2.0)
    ]
)

# Table 8: matching score Add vs Mul, alpha grid.
STUDIES["pss_table8"] = [
    (
        f"{mode} alpha={alpha}",
        P + "fcos_pss_R_50_FPN_3x.py",
        [f"model.quality_mode={mode}", f"model.quality_alpha={alpha}"],
    )
    for mode, alpha in product(("add", "mul"), (0.2, 0.4, 0.6, 0.8))
]

# Table 9: ranking loss off / on.
STUDIES["pss_table9"] = [
    (
        f"{name} rank={on}",
        P + f"{config}_R_50_FPN_3x.py",
        [] if on else ["model.rank_loss_weight=0"],
    )
    for (name, config), on in product(
        (("FCOS_PSS", "fcos_pss"), ("ATSS_PSS", "atss_pss")), (False, True)
    )
]
