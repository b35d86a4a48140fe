"""YOLOF R50-C5: Dilated Encoder (512 ch, 4 blocks, dilations 2,4,6,8) + decoder (2 cls / 4 reg
convs, BN, implicit objectness), 5 anchors 32..512 on C5 (offset 0), Uniform Matching (top-4,
ignore 0.7 / 0.15), centre-clamped deltas. Derived from the RetinaNet model config: same ResNet,
pixel normalisation and focal-loss settings; FPN, RetinaNet head and IoU matcher replaced."""

from detectron2.config import LazyCall as L

from yolof import (
    YOLOF,
    CenterClampedBox2BoxTransform,
    DilatedEncoder,
    YOLOFAssigner,
    YOLOFDecoder,
    make_resnet_stages,
)

from .retinanet import model

model._target_ = YOLOF
resnet = model.backbone.bottom_up
resnet.stages._target_ = make_resnet_stages  # also expresses ResNeXt and res5_dilation (DC5)
resnet.stages.res5_dilation = 1
resnet.out_features = ["res5"]
model.backbone = L(DilatedEncoder)(
    net=resnet,
    in_feature="res5",
    out_channels=512,
    block_mid_channels=128,
    num_residual_blocks=4,
    block_dilations=[2, 4, 6, 8],
    norm="BN",
    use_shortcut=True,
)
model.head = L(YOLOFDecoder)(
    in_channels="${..backbone.out_channels}",
    num_classes="${..num_classes}",
    num_anchors=5,
    cls_num_convs=2,
    reg_num_convs=4,
    norm="BN",
    prior_prob=0.01,
)
model.head_in_features = ["encoder"]
model.anchor_generator.sizes = [[32, 64, 128, 256, 512]]
model.anchor_generator.aspect_ratios = [1.0]
model.anchor_generator.strides = [32]
model.anchor_generator.offset = 0.0
model.box2box_transform = L(CenterClampedBox2BoxTransform)(
    weights=[1.0, 1.0, 1.0, 1.0], ctr_clamp=32.0
)
del model.anchor_matcher
del model.input_format
model.assigner = L(YOLOFAssigner)(
    method="uniform",  # uniform | max_iou | atss | hungarian (Table 5e)
    topk=4,  # Table 5d
    neg_ignore_thresh=0.7,
    pos_ignore_thresh=0.15,
    atss_topk=15,  # Table 8
)
model.loss_normalizer_momentum = 0.0
model.test_score_thresh = 0.05
model.test_topk_candidates = 1000
model.test_nms_thresh = None  # raw candidates; NMSAwareCOCOEvaluator applies NMS 0.6 (Sec. 5)
model.max_detections_per_image = 1000
