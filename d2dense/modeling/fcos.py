"""detectron2's FCOS as a registered, yacs-buildable baseline with an optional centerness branch.

DeFCN's Table 1 baseline is "FCOS without centerness" and PSS keeps centerness; both are this class.
Everything else (point anchors, center sampling with scale ranges, focal + GIoU losses, EMA
normaliser) is upstream's, inherited unchanged.
"""

from typing import List, Optional, Tuple

import torch
from torch import nn

from detectron2.config import configurable
from detectron2.layers import ShapeSpec
from detectron2.modeling import META_ARCH_REGISTRY, build_backbone
from detectron2.modeling.meta_arch.dense_detector import permute_to_N_HWA_K
from detectron2.modeling.meta_arch.fcos import FCOS as _UpstreamFCOS
from detectron2.modeling.meta_arch.fcos import FCOSHead as _UpstreamFCOSHead
from detectron2.modeling.meta_arch.retinanet import RetinaNetHead

from .box_regression import check_clamped_box_sides
from .max_filter import keep_local_maxima_3d
from .postprocess import detect_batch, detect_single_image, suppress_within_spatial_range

__all__ = ["FCOS", "FCOSHead"]


class FCOSHead(_UpstreamFCOSHead):
    """Upstream ``FCOSHead``; with ``use_centerness=False`` it has no centerness conv at all (so no
    unused parameter under DDP) and returns ``(logits, bbox_reg)``.

    ``learnable_level_scales=True`` multiplies each level's box output by a learnable scalar
    (initialised to 1), as the FCOS paper and the cvpods code DeFCN and OneNet build on do
    (``relu(s_l * bbox_pred(x)) * stride_l``; the ReLU and the stride are in the box decoding).
    detectron2's FCOS has none, so it is off by default; turn it on to evaluate official DeFCN /
    OneNet-FCOS weights converted by ``tools/convert_checkpoint.py`` (their ``head.scales.{l}``).
    """

    def __init__(
        self,
        *,
        input_shape: List[ShapeSpec],
        conv_dims: List[int],
        use_centerness=True,
        learnable_level_scales: bool = False,
        **kwargs,
    ):
        super().__init__(input_shape=input_shape, conv_dims=conv_dims, **kwargs)
        self.use_centerness = use_centerness
        if not use_centerness:
            del self.ctrness
        self.level_scales = (
            nn.ParameterList(nn.Parameter(torch.ones(1)) for _ in range(len(input_shape)))
            if learnable_level_scales
            else None
        )

    def scale_boxes(self, bbox_reg: List[torch.Tensor]) -> List[torch.Tensor]:
        """Apply the per-level learnable scales (identity when the head has none)."""
        if self.level_scales is None:
            return bbox_reg
        return [x * s for x, s in zip(bbox_reg, self.level_scales)]

    def forward(self, features):
        if self.use_centerness:
            logits, bbox_reg, ctrness = super().forward(features)
            return logits, self.scale_boxes(bbox_reg), ctrness
        # RetinaNetHead.forward is exactly the two towers + cls_score/bbox_pred.
        logits, bbox_reg = RetinaNetHead.forward(self, features)
        return logits, self.scale_boxes(bbox_reg)


@META_ARCH_REGISTRY.register()
class FCOS(_UpstreamFCOS):
    """Upstream FCOS plus: ``use_centerness`` (DeFCN Table 1 baseline), ``test_nms_thresh=None`` for
    raw (NMS-free) outputs, ``test_max_filter=(phi, tau)`` for 3D max filtering as post-processing
    (DeFCN Table 5, the row marked *), ``test_spatial_nms=(k, iou)`` for NMS within each level's
    k x k neighbourhoods only (DeFCN Table 2), and ``@configurable`` so
    ``MODEL.META_ARCHITECTURE: FCOS`` builds it."""

    @configurable
    def __init__(
        self,
        *,
        use_centerness: bool = True,
        test_nms_thresh: Optional[float] = 0.6,
        test_max_filter: Optional[Tuple[int, int]] = None,
        test_spatial_nms: Optional[Tuple[int, float]] = None,
        **kwargs,
    ):
        super().__init__(test_nms_thresh=test_nms_thresh, **kwargs)
        self.use_centerness = use_centerness
        self.test_max_filter = tuple(test_max_filter) if test_max_filter else None
        self.test_spatial_nms = None
        if test_spatial_nms:
            kernel_size, iou = test_spatial_nms
            if int(kernel_size) != kernel_size or kernel_size < 1 or kernel_size % 2 == 0:
                raise ValueError(
                    f"test_spatial_nms=(k, iou): k must be an odd number of locations >= 1, "
                    f"got {kernel_size!r}"
                )
            if not 0.0 < iou <= 1.0:
                raise ValueError(f"test_spatial_nms=(k, iou): iou must be in (0, 1], got {iou!r}")
            self.test_spatial_nms = (int(kernel_size), float(iou))

    @classmethod
    def from_config(cls, cfg):
        backbone = build_backbone(cfg)
        shapes = backbone.output_shape()
        in_features = cfg.MODEL.FCOS.IN_FEATURES
        head = FCOSHead(
            input_shape=[shapes[f] for f in in_features],
            num_classes=cfg.MODEL.FCOS.NUM_CLASSES,
            conv_dims=[shapes[in_features[0]].channels] * cfg.MODEL.FCOS.NUM_CONVS,
            norm=cfg.MODEL.FCOS.NORM,
            prior_prob=cfg.MODEL.FCOS.PRIOR_PROB,
            use_centerness=cfg.MODEL.FCOS.USE_CENTERNESS,
            learnable_level_scales=cfg.MODEL.FCOS.LEVEL_SCALES,
        )
        nms = cfg.MODEL.FCOS.NMS_THRESH_TEST
        return {
            "backbone": backbone,
            "head": head,
            "head_in_features": in_features,
            "num_classes": cfg.MODEL.FCOS.NUM_CLASSES,
            "center_sampling_radius": cfg.MODEL.FCOS.CENTER_SAMPLING_RADIUS,
            "focal_loss_alpha": cfg.MODEL.FCOS.FOCAL_LOSS_ALPHA,
            "focal_loss_gamma": cfg.MODEL.FCOS.FOCAL_LOSS_GAMMA,
            "test_score_thresh": cfg.MODEL.FCOS.SCORE_THRESH_TEST,
            "test_topk_candidates": cfg.MODEL.FCOS.TOPK_CANDIDATES_TEST,
            "test_nms_thresh": nms if nms >= 0 else None,
            "max_detections_per_image": cfg.TEST.DETECTIONS_PER_IMAGE,
            "use_centerness": cfg.MODEL.FCOS.USE_CENTERNESS,
            "test_max_filter": tuple(cfg.MODEL.FCOS.TEST_MAX_FILTER) or None,
            "test_spatial_nms": tuple(cfg.MODEL.FCOS.TEST_SPATIAL_NMS) or None,
            "pixel_mean": cfg.MODEL.PIXEL_MEAN,
            "pixel_std": cfg.MODEL.PIXEL_STD,
        }

    def _split_predictions(self, predictions):
        if self.use_centerness:
            return self._transpose_dense_predictions(predictions, [self.num_classes, 4, 1])
        logits, deltas = self._transpose_dense_predictions(predictions, [self.num_classes, 4])
        return logits, deltas, None

    def forward_training(self, images, features, predictions, gt_instances):
        pred_logits, pred_deltas, pred_centerness = self._split_predictions(predictions)
        anchors = self.anchor_generator(features)
        gt_labels, gt_boxes = self.label_anchors(anchors, gt_instances)
        labels = torch.stack(gt_labels)
        positive = (labels >= 0) & (labels != self.num_classes)
        check_clamped_box_sides(
            torch.cat(pred_deltas, dim=1)[positive].detach(),
            "fcos/clamped_box_sides",
            "FCOS",
            False,  # detectron2's Box2BoxTransformLinear: no gradient below zero
            "detectron2's FCOS decoding cannot revive it: its boxes will be empty and dropped at "
            "inference (d2dense.modeling.LinearBoxCoder with negative_grad_slope > 0 could).",
        )
        if self.use_centerness:
            return self.losses(
                anchors, pred_logits, gt_labels, pred_deltas, gt_boxes, pred_centerness
            )
        # Without the branch there is no centerness target: the upstream loss minus its ctr term.
        dummy = [torch.zeros_like(x[..., :1]) for x in pred_deltas]
        losses = self.losses(anchors, pred_logits, gt_labels, pred_deltas, gt_boxes, dummy)
        del losses["loss_fcos_ctr"]
        return losses

    def forward_inference(self, images, features, predictions):
        # score maps per level (N, K, H, W): filtered in their spatial layout, then flattened
        score_maps = [x.sigmoid() for x in predictions[0]]
        if self.use_centerness:
            score_maps = [torch.sqrt(s * c.sigmoid()) for s, c in zip(score_maps, predictions[2])]
        if self.test_max_filter is not None:
            score_maps = keep_local_maxima_3d(score_maps, *self.test_max_filter)
        deltas = [permute_to_N_HWA_K(d, 4) for d in predictions[1]]
        anchors = self.anchor_generator(features)
        if self.test_spatial_nms is not None:
            boxes = [
                self.box2box_transform.apply_deltas(
                    d.flatten(0, 1), a.tensor.repeat(len(d), 1)
                ).view_as(d)
                for d, a in zip(deltas, anchors)
            ]
            kernel_size, iou = self.test_spatial_nms
            score_maps = suppress_within_spatial_range(
                score_maps,
                boxes,
                kernel_size,
                iou,
                self.test_score_thresh,
                self.test_topk_candidates,
            )
        scores = [permute_to_N_HWA_K(s, self.num_classes) for s in score_maps]
        return detect_batch(self, anchors, scores, deltas, images.image_sizes)

    def inference_single_image(self, anchors, box_cls, box_delta, image_size):
        return detect_single_image(self, anchors, box_cls, box_delta, image_size)
