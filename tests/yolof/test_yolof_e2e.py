"""End-to-end: one config per distinct YOLOF code path, at the small CPU size (R18 C5)."""

from helpers import DenseModelE2EMixin


class TestYOLOF(DenseModelE2EMixin):
    CONFIG_PATH = "YOLOF/yolof_R_50_C5_1x.py"


class TestYOLOFWithoutEncoderMaxIoU(DenseModelE2EMixin):
    CONFIG_PATH = "YOLOF/yolof_wo_encoder_max_iou_R_50_C5_1x.py"


class TestYOLOFATSS(DenseModelE2EMixin):
    CONFIG_PATH = "YOLOF/yolof_atss_R_50_C5_1x.py"
    OVERRIDES = ("model.assigner.atss_topk=9",)


class TestYOLOFHungarian(DenseModelE2EMixin):
    CONFIG_PATH = "YOLOF/yolof_hungarian_R_50_C5_1x.py"


class TestYOLOF45Anchors(DenseModelE2EMixin):
    """Table 7's last row: 5 areas x 3 sizes x 3 aspect ratios per location."""

    CONFIG_PATH = "YOLOF/yolof_R_50_C5_1x.py"
    OVERRIDES = (
        "model.anchor_generator.sizes=[[32,40.32,50.8,64,80.63,101.59,128,161.27,203.19,256,322.54,406.37,"
        "512,645.08,812.75]]",
        "model.anchor_generator.aspect_ratios=[0.5,1.0,2.0]",
        "model.head.num_anchors=45",
    )


class TestRetinaNetSiMo(DenseModelE2EMixin):
    CONFIG_PATH = "YOLOF/encoders/retinanet_simo_R_50_1x.py"


class TestRetinaNetMiSo(DenseModelE2EMixin):
    CONFIG_PATH = "YOLOF/encoders/retinanet_miso_R_50_1x.py"


class TestRetinaNetSiSo(DenseModelE2EMixin):
    CONFIG_PATH = "YOLOF/encoders/retinanet_siso_R_50_1x.py"
