"""End-to-end: one representative config per distinct PSS code path, at the small CPU size."""

from helpers import DenseModelE2EMixin


class TestFCOSPSS(DenseModelE2EMixin):
    CONFIG_PATH = "PSS/fcos_pss_R_50_FPN_3x.py"


class TestATSSPSS(DenseModelE2EMixin):
    CONFIG_PATH = "PSS/atss_pss_R_50_FPN_3x.py"


class TestFCOSBaselineOneToMany(DenseModelE2EMixin):
    """base_only training, one-to-many inference (the baseline and two-step step one)."""

    CONFIG_PATH = "PSS/fcos_R_50_FPN_3x.py"


class TestATSSPSSTwoStepWithoutCenternessArgmaxPrior(DenseModelE2EMixin):
    """pss_only training (frozen base), no centerness branch, top-one solver, Omega before the
    tie-break, all-class ranking negatives, Add quality."""

    CONFIG_PATH = "PSS/atss_pss_two_step_R_50_FPN_1x.py"
    OVERRIDES = (
        "model.head.use_centerness=False",
        "model.one_to_one_solver=argmax",
        "model.omega=prior",
        "model.rank_negatives=all_classes",
        "model.quality_mode=add",
    )


class TestFCOSPSSWithoutStopGradClassificationBranch(DenseModelE2EMixin):
    """No stop-grad, PSS on the classification tower, 3 PSS convs, no ranking loss."""

    CONFIG_PATH = "PSS/fcos_pss_wo_stop_grad_R_50_FPN_3x.py"
    OVERRIDES = (
        "model.head.pss_branch=classification",
        "model.head.pss_num_convs=3",
        "model.rank_loss_weight=0",
    )
