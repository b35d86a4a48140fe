"""OneNet: one-to-one dense detectors with classification cost.

"What Makes for End-to-End Object Detection?" (Sun et al., ICML 2021). One meta-architecture covers
the three detectors of the paper; they differ only in their parts, which the configs choose:

=========  ===============================  ======================  ==================
detector   backbone / head                  object candidates       box coder
=========  ===============================  ======================  ==================
RetinaNet  ResNet-FPN P3-P7, RetinaNetHead  9 anchors per location  Box2BoxTransform
FCOS       ResNet-FPN P3-P7, FCOS towers    1 point per location    ltrb x stride
CenterNet  ResNet + deconv, stride 4 only   1 point per location    ltrb in pixels
=========  ===============================  ======================  ==================

Label assignment comes from :mod:`matchcost` (see :class:`OneNetAssigner`); the loss is the paper's
Eq. 1 with the matching cost's terms (OneNet's ``SetCriterion``): sigmoid focal loss over every
sample, and L1 (on image-normalised xyxy) + GIoU on the positives. Inference keeps the top-scoring
(sample, class) pairs without threshold or NMS. Shapes: N images, R samples (all levels,
level-major, ``permute_to_N_HWA_K`` order), K classes, G ground truths of one image.
"""

import logging
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from fvcore.nn import giou_loss, sigmoid_focal_loss_jit

from detectron2.config import configurable
from detectron2.layers import cat
from detectron2.modeling import META_ARCH_REGISTRY, build_backbone
from detectron2.modeling.anchor_generator import DefaultAnchorGenerator, build_anchor_generator
from detectron2.modeling.box_regression import Box2BoxTransform
from detectron2.modeling.meta_arch.dense_detector import DenseDetector
from detectron2.modeling.meta_arch.retinanet import RetinaNetHead
from detectron2.structures import Boxes
from detectron2.utils.events import get_event_storage

import matchcost
from d2dense.modeling import FCOSHead, LinearBoxCoder, detect_batch, mean_over_workers
from d2dense.modeling.box_regression import check_clamped_box_sides

from .assignment import OneNetAssigner
from .centernet import OneNetCenterNetHead

logger = logging.getLogger(__name__)

__all__ = ["OneNet"]

HEADS = ("RetinaNet", "FCOS", "CenterNet")


@META_ARCH_REGISTRY.register()
class OneNet(DenseDetector):
    """Dense detector trained with the assignment of :class:`OneNetAssigner` (one-to-one minimum
    cost with or without classification cost, on predicted or pre-defined boxes, or the original
    one-to-many rules) and evaluated without NMS.

    Every row of the paper's Tables 1-3 is a config of this class (``configs/OneNet``).
    """

    @configurable
    def __init__(
        self,
        *,
        backbone,
        head,
        head_in_features: Optional[List[str]] = None,
        anchor_generator,
        box2box_transform,
        assigner: OneNetAssigner,
        num_classes: int,
        focal_loss_alpha: float = 0.25,
        focal_loss_gamma: float = 2.0,
        loss_weight_class: float = 2.0,
        loss_weight_l1: float = 5.0,
        loss_weight_giou: float = 2.0,
        test_score_thresh: float = 0.0,
        test_topk_candidates: int = 1000,
        test_nms_thresh: Optional[float] = None,
        max_detections_per_image: int = 100,
        pixel_mean,
        pixel_std,
    ):
        """
        Args:
            anchor_generator: the pre-defined object candidates: anchors (RetinaNet) or one box of
                side = stride per location, whose centre is the point (FCOS, CenterNet).
            box2box_transform: decodes the regression output against those candidates.
            assigner: the positive-sample assignment (paper Sec. 3.2-3.3).
            loss_weight_class, loss_weight_l1, loss_weight_giou: weights of the focal, L1 and GIoU
                losses (OneNet: 2, 5, 2 - the loss equals the matching cost).
            test_score_thresh: 0 = OneNet's inference (no threshold).
            test_topk_candidates: candidates kept per level before the final top-k.
            test_nms_thresh: None (end-to-end) or a class-aware NMS threshold.
            max_detections_per_image: how many top-scoring (sample, class) pairs are returned.
        """
        super().__init__(
            backbone, head, head_in_features, pixel_mean=pixel_mean, pixel_std=pixel_std
        )
        self.num_classes = num_classes
        self.anchor_generator = anchor_generator
        self.box2box_transform = box2box_transform
        self.assigner = assigner
        self.focal_loss_alpha = focal_loss_alpha
        self.focal_loss_gamma = focal_loss_gamma
        self.loss_weight_class = loss_weight_class
        self.loss_weight_l1 = loss_weight_l1
        self.loss_weight_giou = loss_weight_giou
        self.test_score_thresh = test_score_thresh
        self.test_topk_candidates = test_topk_candidates
        self.test_nms_thresh = test_nms_thresh
        self.max_detections_per_image = max_detections_per_image
        self.strides = [backbone.output_shape()[k].stride for k in self.head_in_features]

    @classmethod
    def from_config(cls, cfg):
        c = cfg.MODEL.ONENET
        if c.HEAD not in HEADS:
            raise ValueError(f"MODEL.ONENET.HEAD={c.HEAD!r} is not one of {HEADS}")
        backbone = build_backbone(cfg)
        shapes = [backbone.output_shape()[f] for f in c.IN_FEATURES]
        strides = [s.stride for s in shapes]
        channels = shapes[0].channels
        if c.HEAD == "RetinaNet":
            anchor_generator = build_anchor_generator(cfg, shapes)
            box2box_transform = Box2BoxTransform(weights=cfg.MODEL.RETINANET.BBOX_REG_WEIGHTS)
            head = RetinaNetHead(
                input_shape=shapes,
                num_classes=c.NUM_CLASSES,
                num_anchors=anchor_generator.num_cell_anchors[0],
                conv_dims=[channels] * c.NUM_CONVS,
                norm=c.NORM,
                prior_prob=c.PRIOR_PROB,
            )
        else:
            # One point per location at ((j + 0.5) s, (i + 0.5) s), stored as a box of side s.
            anchor_generator = DefaultAnchorGenerator(
                sizes=[[s] for s in strides], aspect_ratios=[1.0], strides=strides
            )
            # FCOS regresses ltrb in strides, the CenterNet-style head in pixels (OneNet).
            box2box_transform = LinearBoxCoder(
                normalize_by_size=c.HEAD == "FCOS", negative_grad_slope=c.BOX_NEGATIVE_GRAD_SLOPE
            )
        if c.HEAD == "FCOS":
            head = FCOSHead(
                input_shape=shapes,
                num_classes=c.NUM_CLASSES,
                conv_dims=[channels] * c.NUM_CONVS,
                norm=c.NORM,
                prior_prob=c.PRIOR_PROB,
                use_centerness=False,
                learnable_level_scales=c.LEVEL_SCALES,
            )
        elif c.HEAD == "CenterNet":
            head = OneNetCenterNetHead(
                in_channels=channels,
                conv_dims=[channels],
                num_classes=c.NUM_CLASSES,
                prior_prob=c.PRIOR_PROB,
            )
        nms = c.NMS_THRESH_TEST
        return {
            "backbone": backbone,
            "head": head,
            "head_in_features": c.IN_FEATURES,
            "anchor_generator": anchor_generator,
            "box2box_transform": box2box_transform,
            "assigner": OneNetAssigner(
                assignment=c.ASSIGNMENT,
                location_cost=c.LOCATION_COST,
                candidates="anchor_boxes" if c.HEAD == "RetinaNet" else "points",
                solver=c.SOLVER,
                weight_class=c.COST_CLASS,
                weight_l1=c.COST_L1,
                weight_giou=c.COST_GIOU,
                fpn_level_prior=c.FPN_LEVEL_PRIOR,
                focal_alpha=c.FOCAL_LOSS_ALPHA,
                focal_gamma=c.FOCAL_LOSS_GAMMA,
                center_sampling_radius=c.CENTER_SAMPLING_RADIUS,
                scale_ranges=c.SCALE_RANGES or None,
            ),
            "num_classes": c.NUM_CLASSES,
            "focal_loss_alpha": c.FOCAL_LOSS_ALPHA,
            "focal_loss_gamma": c.FOCAL_LOSS_GAMMA,
            "loss_weight_class": c.LOSS_CLASS,
            "loss_weight_l1": c.LOSS_L1,
            "loss_weight_giou": c.LOSS_GIOU,
            "test_score_thresh": c.SCORE_THRESH_TEST,
            "test_topk_candidates": c.TOPK_CANDIDATES_TEST,
            "test_nms_thresh": nms if nms >= 0 else None,
            "max_detections_per_image": cfg.TEST.DETECTIONS_PER_IMAGE,
            "pixel_mean": cfg.MODEL.PIXEL_MEAN,
            "pixel_std": cfg.MODEL.PIXEL_STD,
        }

    # ------------------------------------------------------------------------------ common
    def _flat_predictions(self, features, predictions):
        """-> anchors per level (list of Boxes), logits (N, R, K), deltas (N, R, 4)."""
        pred_logits, pred_deltas = self._transpose_dense_predictions(
            predictions, [self.num_classes, 4]
        )
        return self.anchor_generator(features), cat(pred_logits, dim=1), cat(pred_deltas, dim=1)

    # ------------------------------------------------------------------------------ training
    def forward_training(self, images, features, predictions, gt_instances):
        anchors, logits, deltas = self._flat_predictions(features, predictions)
        num_anchors_per_level = [len(a) for a in anchors]
        anchors = Boxes.cat(anchors).tensor
        assignments = self.label_samples(
            anchors, num_anchors_per_level, logits, deltas, images.image_sizes, gt_instances
        )
        return self.losses(anchors, logits, deltas, images.image_sizes, gt_instances, assignments)

    @torch.no_grad()
    def label_samples(
        self, anchors, num_anchors_per_level, logits, deltas, image_sizes, gt_instances
    ):
        """One :class:`matchcost.Assignment` per image."""
        assignments = []
        num_pos, num_unmatched = 0, 0
        for i, inst in enumerate(gt_instances):
            if len(inst) and int(inst.gt_classes.max()) >= self.num_classes:
                raise ValueError(
                    f"ground-truth class {int(inst.gt_classes.max())} >= model.num_classes="
                    f"{self.num_classes}: set num_classes to the dataset's number of classes"
                )
            result = self.assigner(
                anchors=anchors,
                num_anchors_per_level=num_anchors_per_level,
                strides=self.strides,
                probs=logits[i].detach().sigmoid(),
                pred_boxes=self.box2box_transform.apply_deltas(deltas[i].detach(), anchors),
                gt_boxes=inst.gt_boxes.tensor,
                gt_classes=inst.gt_classes,
                image_size=image_sizes[i],
            )
            assignments.append(result)
            num_pos += int(result.pred_inds.numel())
            num_unmatched += result.num_unmatched_gt
        storage = get_event_storage()
        storage.put_scalar("onenet/num_pos_per_image", num_pos / max(len(gt_instances), 1))
        storage.put_scalar("onenet/num_unmatched_gt", num_unmatched)
        return assignments

    def losses(self, anchors, logits, deltas, image_sizes, gt_instances, assignments):
        """Eq. 1 on the positive pairs ``(pred_inds, gt_inds)``: with the ``min_cost`` solver two
        gts may share one sample, which then learns both (as OneNet trains on its index pairs)."""
        valid = torch.stack([a.labels != matchcost.IGNORE for a in assignments])  # (N, R)
        targets = torch.zeros_like(logits)
        pred_boxes, gt_boxes, scales = [], [], []
        for i, (a, inst) in enumerate(zip(assignments, gt_instances)):
            targets[i, a.pred_inds, inst.gt_classes[a.gt_inds]] = 1.0
            pred_boxes.append(
                self.box2box_transform.apply_deltas(deltas[i, a.pred_inds], anchors[a.pred_inds])
            )
            gt_boxes.append(inst.gt_boxes.tensor[a.gt_inds])
            h, w = image_sizes[i]
            scales.append(deltas.new_tensor([w, h, w, h]).expand(len(a.pred_inds), 4))
        pred_boxes, gt_boxes, scales = cat(pred_boxes), cat(gt_boxes), cat(scales)
        # positive pairs (one per gt) averaged over the GPUs as OneNet's all-reduced gt count,
        # then detectron2's EMA
        num_pos = mean_over_workers(len(pred_boxes), pred_boxes.device)
        normalizer = self._ema_update("loss_normalizer", max(num_pos, 1.0), 100)
        if isinstance(self.box2box_transform, LinearBoxCoder):
            check_clamped_box_sides(
                cat([deltas[i, a.pred_inds] for i, a in enumerate(assignments)]).detach(),
                "onenet/clamped_box_sides",
                "OneNet",
                bool(self.box2box_transform.negative_grad_slope),
                "Set model.box2box_transform.negative_grad_slope > 0 (yacs "
                "MODEL.ONENET.BOX_NEGATIVE_GRAD_SLOPE) to let them recover.",
            )

        loss_cls = sigmoid_focal_loss_jit(
            logits[valid],
            targets[valid],
            alpha=self.focal_loss_alpha,
            gamma=self.focal_loss_gamma,
            reduction="sum",
        )
        # L1 on boxes divided by the unpadded image size, like the matching cost's C_L1.
        loss_l1 = F.l1_loss(pred_boxes / scales, gt_boxes / scales, reduction="sum")
        loss_giou = giou_loss(pred_boxes, gt_boxes, reduction="sum")
        return {
            "loss_onenet_cls": self.loss_weight_class * loss_cls / normalizer,
            "loss_onenet_l1": self.loss_weight_l1 * loss_l1 / normalizer,
            "loss_onenet_giou": self.loss_weight_giou * loss_giou / normalizer,
        }

    # ------------------------------------------------------------------------------ inference
    def forward_inference(self, images, features, predictions):
        pred_logits, pred_deltas = self._transpose_dense_predictions(
            predictions, [self.num_classes, 4]
        )
        anchors = self.anchor_generator(features)
        scores = [x.sigmoid() for x in pred_logits]
        return detect_batch(self, anchors, scores, pred_deltas, images.image_sizes)

    @torch.no_grad()
    def dense_outputs(self, batched_inputs) -> List[Tuple[torch.Tensor, torch.Tensor]]:
        """Every sample's class probabilities ``(R, K)`` and decoded box ``(R, 4)``, per image, in
        the coordinates of the input's ``height``/``width`` (for the score-gap analysis, Sec.
        3.4)."""
        images = self.preprocess_image(batched_inputs)
        features = self.backbone(images.tensor)
        features = [features[f] for f in self.head_in_features]
        anchors, logits, deltas = self._flat_predictions(features, self.head(features))
        anchors = Boxes.cat(anchors).tensor
        outputs = []
        for i, (h, w) in enumerate(images.image_sizes):
            boxes = self.box2box_transform.apply_deltas(deltas[i], anchors)
            out_h = batched_inputs[i].get("height", h)
            out_w = batched_inputs[i].get("width", w)
            boxes = boxes * boxes.new_tensor([out_w / w, out_h / h, out_w / w, out_h / h])
            outputs.append((logits[i].sigmoid(), boxes))
        return outputs
