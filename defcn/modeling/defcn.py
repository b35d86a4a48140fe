"""DeFCN: end-to-end FCN detection with POTO, 3D Max Filtering and an auxiliary loss.

"End-to-End Object Detection with Fully Convolutional Network" (Wang et al., CVPR 2021). Label
assignment comes from :mod:`matchcost`; this file only adapts detectron2 structures to it and
computes the losses. Shapes follow detectron2: N images, R points (all levels, level-major),
K classes, G ground truths of one image.
"""

from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from fvcore.nn import sigmoid_focal_loss_jit

from detectron2.config import configurable
from detectron2.layers import cat
from detectron2.modeling import META_ARCH_REGISTRY, build_backbone
from detectron2.modeling.anchor_generator import DefaultAnchorGenerator
from detectron2.modeling.box_regression import Box2BoxTransformLinear, _dense_box_regression_loss
from detectron2.modeling.meta_arch.dense_detector import DenseDetector, permute_to_N_HWA_K
from detectron2.structures import Boxes
from detectron2.utils.events import get_event_storage

from d2dense.modeling import (
    detect_batch,
    focal_loss_from_log_probs,
    keep_local_maxima_3d,
    mean_over_workers,
)

from .assignment import DeFCNAssigner
from .head import DeFCNHead

__all__ = ["DeFCN", "auxiliary_class_targets", "auxiliary_focal_loss", "product_sigmoid_focal_loss"]


def product_sigmoid_focal_loss(
    cls_logits: torch.Tensor,
    filter_logits: torch.Tensor,
    targets: torch.Tensor,
    alpha: float = 0.25,
    gamma: float = 2.0,
) -> torch.Tensor:
    """Sigmoid focal loss (sum) of DeFCN's score ``p = sigmoid(cls) * sigmoid(filter)``.

    The product has no single logit, so the loss is taken on ``p`` (as the public implementation
    does), in log space: ``log p = logsigmoid(cls) + logsigmoid(filter)`` keeps saturated scores
    finite and their gradients alive (clamping ``p`` would stop a hard positive from learning).
    ``filter_logits`` broadcasts over the classes.
    """
    log_p = F.logsigmoid(cls_logits) + F.logsigmoid(filter_logits)
    return focal_loss_from_log_probs(log_p, targets, alpha, gamma)


def auxiliary_class_targets(
    assigner: DeFCNAssigner,
    points: torch.Tensor,
    num_points_per_level: List[int],
    logits: torch.Tensor,
    pred_boxes: torch.Tensor,
    gt_instances,
) -> torch.Tensor:
    """One image's one-to-many targets ``(R,)`` of Sec. 3.2.3's rule, for
    :func:`auxiliary_focal_loss`. The rule's quality reads the coarse score ``sigmoid(logits)``
    (``(R, K)``, no 3DMF filter) and the decoded ``pred_boxes`` ``(R, 4)``."""
    aux = assigner.auxiliary(
        points=points,
        num_points_per_level=num_points_per_level,
        scores=logits.sigmoid(),
        pred_boxes=pred_boxes,
        gt_boxes=gt_instances.gt_boxes.tensor,
        gt_classes=gt_instances.gt_classes,
    )
    return aux.class_targets(gt_instances.gt_classes, logits.shape[-1])


def auxiliary_focal_loss(
    detector: DenseDetector, logits: torch.Tensor, aux_classes: List[torch.Tensor]
) -> torch.Tensor:
    """Sec. 3.2.3's auxiliary loss (unweighted): sigmoid focal loss of the coarse classification
    logits ``(N, R, K)`` against the one-to-many targets ``aux_classes`` (per image ``(R,)`` in
    {0..K-1 fg, K bg, -1 ignore}), normalised by an EMA of its positives averaged over workers.

    ``detector`` supplies ``num_classes``, ``focal_loss_alpha`` / ``_gamma`` and the EMA
    (``_ema_update``); DeFCN and FCOS + Aux (Table 5) share it.
    """
    num_classes = detector.num_classes
    aux_classes = torch.stack(aux_classes)
    aux_valid = aux_classes >= 0
    aux_pos = int((aux_valid & (aux_classes != num_classes)).sum())
    aux_pos = mean_over_workers(aux_pos, aux_classes.device)
    aux_norm = detector._ema_update("aux_loss_normalizer", max(aux_pos, 1.0), 100)
    aux_targets = F.one_hot(aux_classes.clamp(min=0), num_classes + 1)[..., :-1]
    loss = sigmoid_focal_loss_jit(
        logits[aux_valid],
        aux_targets[aux_valid].to(logits.dtype),
        alpha=detector.focal_loss_alpha,
        gamma=detector.focal_loss_gamma,
        reduction="sum",
    )
    return loss / aux_norm


@META_ARCH_REGISTRY.register()
class DeFCN(DenseDetector):
    """FCOS-style dense detector trained one-to-one (POTO) with optional 3DMF and auxiliary loss.

    Every ablation of the paper is a constructor argument (see ``configs/DeFCN``):
    ``assigner`` picks the label assignment (POTO / foreground loss / the hand-designed Anchor and
    Center rules / FCOS one-to-many), ``head.use_3dmf`` the 3DMF branch, ``aux_loss_weight`` the
    auxiliary one-to-many loss, ``test_max_filter`` 3D max filtering as post-processing.
    """

    @configurable
    def __init__(
        self,
        *,
        backbone,
        head: DeFCNHead,
        head_in_features: Optional[List[str]] = None,
        box2box_transform=None,
        assigner: DeFCNAssigner,
        num_classes: int,
        focal_loss_alpha: float = 0.25,
        focal_loss_gamma: float = 2.0,
        reg_loss_weight: float = 2.0,
        aux_loss_weight: float = 1.0,
        test_score_thresh: float = 0.05,
        test_topk_candidates: int = 1000,
        test_nms_thresh: Optional[float] = None,
        max_detections_per_image: int = 100,
        test_max_filter: Optional[Tuple[int, int]] = None,
        pixel_mean,
        pixel_std,
    ):
        """
        Args:
            assigner: label assignment of the main loss (and of the auxiliary loss).
            reg_loss_weight: weight of the GIoU loss (2.0 in the paper's code).
            aux_loss_weight: weight of the auxiliary one-to-many focal loss; 0 disables it.
            test_nms_thresh: None (the end-to-end setting) or a class-aware NMS threshold.
            test_max_filter: None, or ``(phi, tau)`` to keep only 3D local maxima of the scores at
                inference (3D max filtering as post-processing, Table 5).
            Other arguments as in detectron2's :class:`FCOS`.
        """
        super().__init__(
            backbone, head, head_in_features, pixel_mean=pixel_mean, pixel_std=pixel_std
        )
        self.num_classes = num_classes
        strides = [backbone.output_shape()[k].stride for k in self.head_in_features]
        self.strides = strides
        # One point per location at ((j + 0.5) s, (i + 0.5) s), stored as a box of side s.
        self.anchor_generator = DefaultAnchorGenerator(
            sizes=[[s] for s in strides], aspect_ratios=[1.0], strides=strides
        )
        self.box2box_transform = box2box_transform or Box2BoxTransformLinear(normalize_by_size=True)
        self.assigner = assigner
        self.focal_loss_alpha = focal_loss_alpha
        self.focal_loss_gamma = focal_loss_gamma
        self.reg_loss_weight = reg_loss_weight
        self.aux_loss_weight = aux_loss_weight
        self.test_score_thresh = test_score_thresh
        self.test_topk_candidates = test_topk_candidates
        self.test_nms_thresh = test_nms_thresh
        self.max_detections_per_image = max_detections_per_image
        self.test_max_filter = tuple(test_max_filter) if test_max_filter else None

    @classmethod
    def from_config(cls, cfg):
        backbone = build_backbone(cfg)
        shapes = backbone.output_shape()
        c = cfg.MODEL.DEFCN
        head = DeFCNHead(
            input_shape=[shapes[f] for f in c.IN_FEATURES],
            num_classes=c.NUM_CLASSES,
            conv_dims=[shapes[c.IN_FEATURES[0]].channels] * c.NUM_CONVS,
            norm=c.NORM,
            learnable_level_scales=c.LEVEL_SCALES,
            prior_prob=c.PRIOR_PROB,
            use_3dmf=c.USE_3DMF,
            filter_kernel_size=c.FILTER_KERNEL_SIZE,
            filter_tau=c.FILTER_TAU,
            filter_norm=c.FILTER_NORM,
        )
        return {
            "backbone": backbone,
            "head": head,
            "head_in_features": c.IN_FEATURES,
            "assigner": DeFCNAssigner(
                method=c.ASSIGNER,
                solver=c.SOLVER,
                alpha=c.POTO_ALPHA,
                quality=c.QUALITY,
                spatial_prior=c.SPATIAL_PRIOR,
                center_sampling_radius=c.CENTER_SAMPLING_RADIUS,
                aux_topk=c.AUX_TOPK,
                anchor_scale=c.ANCHOR_SCALE,
                unmatched=c.UNMATCHED,
            ),
            "num_classes": c.NUM_CLASSES,
            "focal_loss_alpha": c.FOCAL_LOSS_ALPHA,
            "focal_loss_gamma": c.FOCAL_LOSS_GAMMA,
            "reg_loss_weight": c.REG_LOSS_WEIGHT,
            "aux_loss_weight": c.AUX_LOSS_WEIGHT,
            "test_score_thresh": c.SCORE_THRESH_TEST,
            "test_topk_candidates": c.TOPK_CANDIDATES_TEST,
            "test_nms_thresh": c.NMS_THRESH_TEST if c.NMS_THRESH_TEST >= 0 else None,
            "max_detections_per_image": cfg.TEST.DETECTIONS_PER_IMAGE,
            "test_max_filter": tuple(c.TEST_MAX_FILTER) if c.TEST_MAX_FILTER else None,
            "pixel_mean": cfg.MODEL.PIXEL_MEAN,
            "pixel_std": cfg.MODEL.PIXEL_STD,
        }

    # ------------------------------------------------------------------------------ common
    def _split_predictions(self, predictions):
        """-> per-level lists (N, R_l, K), (N, R_l, 4), and (N, R_l, 1) or None."""
        if self.head.use_3dmf:
            return self._transpose_dense_predictions(predictions, [self.num_classes, 4, 1])
        logits, deltas = self._transpose_dense_predictions(predictions, [self.num_classes, 4])
        return logits, deltas, None

    def _scores(self, logits: torch.Tensor, filters: Optional[torch.Tensor]) -> torch.Tensor:
        """Classification score: sigmoid(cls) * sigmoid(filter) with 3DMF, sigmoid(cls) without."""
        scores = logits.sigmoid()
        return scores * filters.sigmoid() if filters is not None else scores

    # ------------------------------------------------------------------------------ training
    def forward_training(self, images, features, predictions, gt_instances):
        pred_logits, pred_deltas, pred_filters = self._split_predictions(predictions)
        anchors = self.anchor_generator(features)
        num_points_per_level = [len(a) for a in anchors]
        anchors_all = Boxes.cat(anchors)
        logits = cat(pred_logits, dim=1)  # (N, R, K)
        deltas = cat(pred_deltas, dim=1)  # (N, R, 4)
        filters = cat(pred_filters, dim=1) if pred_filters is not None else None

        gt_classes, gt_boxes, aux_classes = self.label_points(
            anchors_all, num_points_per_level, logits, deltas, filters, gt_instances
        )
        return self.losses(anchors, logits, deltas, filters, gt_classes, gt_boxes, aux_classes)

    @torch.no_grad()
    def label_points(self, anchors, num_points_per_level, logits, deltas, filters, gt_instances):
        """Per image: class target (R,) in {0..K-1 fg, K bg}, matched gt box (R, 4) and,
        when the auxiliary loss is on, its one-to-many class target (R,)."""
        points = anchors.get_centers()
        point_strides = anchors.tensor[:, 2] - anchors.tensor[:, 0]
        gt_classes, gt_boxes, aux_classes = [], [], []
        num_pos, num_unmatched = 0, 0
        for i, inst in enumerate(gt_instances):
            if len(inst) and int(inst.gt_classes.max()) >= self.num_classes:
                raise ValueError(
                    f"ground-truth class {int(inst.gt_classes.max())} >= model.num_classes="
                    f"{self.num_classes}: set num_classes to the dataset's number of classes"
                )
            pred_boxes = self.box2box_transform.apply_deltas(deltas[i], anchors.tensor)
            main = self.assigner(  # under no_grad: nothing to detach
                points=points,
                strides=point_strides,
                num_points_per_level=num_points_per_level,
                scores=self._scores(logits[i], None if filters is None else filters[i]),
                pred_boxes=pred_boxes,
                gt_boxes=inst.gt_boxes.tensor,
                gt_classes=inst.gt_classes,
            )
            gt_classes.append(main.class_targets(inst.gt_classes, self.num_classes))
            matched = main.labels.clamp(min=0)
            gt_boxes.append(
                inst.gt_boxes.tensor[matched] if len(inst) else torch.zeros_like(anchors.tensor)
            )
            num_pos += main.num_foreground
            num_unmatched += main.num_unmatched_gt
            if self.aux_loss_weight > 0:
                aux_classes.append(
                    auxiliary_class_targets(
                        self.assigner, points, num_points_per_level, logits[i], pred_boxes, inst
                    )
                )
        storage = get_event_storage()
        storage.put_scalar("defcn/num_pos_per_image", num_pos / max(len(gt_instances), 1))
        storage.put_scalar("defcn/num_unmatched_gt", num_unmatched)
        return gt_classes, gt_boxes, (aux_classes if self.aux_loss_weight > 0 else None)

    def losses(self, anchors, logits, deltas, filters, gt_classes, gt_boxes, aux_classes):
        gt_classes = torch.stack(gt_classes)  # (N, R)
        valid = gt_classes >= 0
        pos_mask = valid & (gt_classes != self.num_classes)
        # positives averaged over the GPUs (the reference's all-reduce), then detectron2's EMA
        num_pos = mean_over_workers(int(pos_mask.sum()), pos_mask.device)
        normalizer = self._ema_update("loss_normalizer", max(num_pos, 1.0), 100)

        targets = F.one_hot(gt_classes.clamp(min=0), self.num_classes + 1)[..., :-1].to(
            logits.dtype
        )
        if filters is not None:
            loss_cls = product_sigmoid_focal_loss(
                logits[valid],
                filters[valid],
                targets[valid],
                self.focal_loss_alpha,
                self.focal_loss_gamma,
            )
        else:
            loss_cls = sigmoid_focal_loss_jit(
                logits[valid],
                targets[valid],
                alpha=self.focal_loss_alpha,
                gamma=self.focal_loss_gamma,
                reduction="sum",
            )
        loss_loc = _dense_box_regression_loss(
            anchors,
            self.box2box_transform,
            [deltas],
            [b for b in gt_boxes],
            pos_mask,
            box_reg_loss_type="giou",
        )
        losses = {
            "loss_defcn_cls": loss_cls / normalizer,
            "loss_defcn_loc": self.reg_loss_weight * loss_loc / normalizer,
        }
        if aux_classes is not None:
            # Sec. 3.2.3: the auxiliary loss acts on the coarse (pre-3DMF) classification logits.
            losses["loss_defcn_aux_cls"] = self.aux_loss_weight * auxiliary_focal_loss(
                self, logits, aux_classes
            )
        return losses

    # ------------------------------------------------------------------------------ inference
    def forward_inference(self, images, features, predictions):
        score_maps = predictions[0]
        score_maps = [x.sigmoid() for x in score_maps]
        if self.head.use_3dmf:
            score_maps = [s * f.sigmoid() for s, f in zip(score_maps, predictions[2])]
        if self.test_max_filter is not None:
            score_maps = keep_local_maxima_3d(score_maps, *self.test_max_filter)
        scores = [permute_to_N_HWA_K(s, self.num_classes) for s in score_maps]
        deltas = [permute_to_N_HWA_K(d, 4) for d in predictions[1]]
        anchors = self.anchor_generator(features)
        return detect_batch(self, anchors, scores, deltas, images.image_sizes)
