"""End-to-end: one representative config per distinct code path, at the small CPU size."""

from helpers import DenseModelE2EMixin


class TestFCOSBaseline(DenseModelE2EMixin):
    CONFIG_PATH = "Baselines/fcos_R_50_FPN_1x.py"


class TestFCOSWithoutCenterness(DenseModelE2EMixin):
    CONFIG_PATH = "Baselines/fcos_wo_ctr_R_50_FPN_1x.py"


class TestRetinaNet(DenseModelE2EMixin):
    CONFIG_PATH = "Baselines/retinanet_R_50_FPN_1x.py"


class TestDeFCNFull(DenseModelE2EMixin):
    CONFIG_PATH = "DeFCN/poto_3dmf_aux_R_50_FPN_3x.py"


class TestDeFCNPotoArgmaxGlobalAdd(DenseModelE2EMixin):
    CONFIG_PATH = "DeFCN/poto_argmax_R_50_FPN_3x.py"
    OVERRIDES = ("model.assigner.spatial_prior=global", "model.assigner.quality=add")


class TestDeFCNForegroundLoss(DenseModelE2EMixin):
    CONFIG_PATH = "DeFCN/fg_loss_R_50_FPN_3x.py"


class TestDeFCNAnchorRule(DenseModelE2EMixin):
    CONFIG_PATH = "DeFCN/anchor_R_50_FPN_3x.py"


class TestDeFCNCenterRule(DenseModelE2EMixin):
    CONFIG_PATH = "DeFCN/center_R_50_FPN_3x.py"


class TestFCOSMaxFilterPostProcessing(DenseModelE2EMixin):
    CONFIG_PATH = "DeFCN/fcos_max_filter_pp_R_50_FPN_3x.py"


class TestDeFCNOneToManyWithAux(DenseModelE2EMixin):
    CONFIG_PATH = "DeFCN/fcos_wo_ctr_aux_R_50_FPN_3x.py"
    OVERRIDES = ("model.assigner.spatial_prior=inside",)


class TestDeFCNCrowdHumanNoGN(DenseModelE2EMixin):
    CONFIG_PATH = "DeFCN/crowdhuman/poto_3dmf_aux_R_50_FPN_30k.py"
    OVERRIDES = (
        "model.head.filter_norm=",
        "model.head.filter_tau=4",
        "model.head.filter_kernel_size=5",
    )


class TestFCOSWithAux(DenseModelE2EMixin):
    CONFIG_PATH = "DeFCN/fcos_aux_R_50_FPN_3x.py"
