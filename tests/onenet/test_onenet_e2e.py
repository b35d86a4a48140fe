"""End-to-end: one representative config per distinct code path, at the small CPU size (2 classes:
the 80-class heads only cost time here)."""

from helpers import DenseModelE2EMixin

TWO_CLASSES = ("model.num_classes=2",)


class TestOneNetFCOS(DenseModelE2EMixin):
    """One-to-one, predicted location + classification cost, min cost per gt."""

    CONFIG_PATH = "OneNet/fcos_o2o_cls_R_50_FPN_3x.py"
    OVERRIDES = TWO_CLASSES


class TestOneNetFCOSPredefinedLevelHungarian(DenseModelE2EMixin):
    """Location cost only, on the points of the gt's FPN level, exact Hungarian matching."""

    CONFIG_PATH = "OneNet/fcos_o2o_loc_R_50_FPN_3x.py"
    OVERRIDES = TWO_CLASSES + ("model.assigner.solver=hungarian",)


class TestOneNetRetinaNetPredefinedAnchors(DenseModelE2EMixin):
    CONFIG_PATH = "OneNet/retinanet_o2o_cls_predef_R_50_FPN_3x.py"
    OVERRIDES = TWO_CLASSES


class TestOneNetRetinaNetMaxIoU(DenseModelE2EMixin):
    """One-to-many with ignored anchors (0.4 <= IoU < 0.5)."""

    CONFIG_PATH = "OneNet/retinanet_o2m_R_50_FPN_3x.py"
    OVERRIDES = TWO_CLASSES


class TestOneNetCenterNet(DenseModelE2EMixin):
    CONFIG_PATH = "OneNet/centernet_o2o_cls_R_50_DCN_270k.py"
    OVERRIDES = TWO_CLASSES


class TestOneNetCenterNetOneToMany(DenseModelE2EMixin):
    """The FCOS rule on the single stride-4 level: centre sampling without scale ranges."""

    CONFIG_PATH = "OneNet/centernet_o2m_R_50_DCN_270k.py"
    OVERRIDES = TWO_CLASSES
