"""YOLOF: You Only Look One-level Feature (Chen et al., CVPR 2021).

Backbone C5 (or DC5) -> Dilated Encoder -> decoder, anchors on that single level, Uniform Matching
from :mod:`matchcost`, focal loss on the objectness-weighted score and GIoU on decoded boxes.
Shapes follow detectron2: N images, R anchors (H*W*A, location-major), K classes, G ground truths
of one image.
"""

from typing import List, Optional

import torch
import torch.nn.functional as F
from fvcore.nn import giou_loss, sigmoid_focal_loss_jit

from detectron2.config import configurable
from detectron2.layers import cat
from detectron2.modeling import META_ARCH_REGISTRY, build_backbone
from detectron2.modeling.anchor_generator import DefaultAnchorGenerator
from detectron2.modeling.meta_arch.dense_detector import DenseDetector
from detectron2.structures import Boxes, Instances
from detectron2.utils.events import get_event_storage

from d2dense.modeling import detect_batch, mean_over_workers

from .assignment import YOLOFAssigner
from .box_regression import CenterClampedBox2BoxTransform
from .decoder import YOLOFDecoder

__all__ = ["YOLOF"]


@META_ARCH_REGISTRY.register()
class YOLOF(DenseDetector):
    """Single-level anchor-based detector. Every ablation of the paper is a constructor argument
    (see ``configs/YOLOF``): the encoder's blocks / dilations / shortcut live in ``backbone``
    (:class:`DilatedEncoder`), the matching rule and its k in ``assigner``, the anchors per
    location in ``anchor_generator`` + ``head.num_anchors``.

    YOLOF is not NMS-free: the paper post-processes with class-aware NMS 0.6 (Sec. 5).
    ``test_nms_thresh=None`` returns the raw top-k candidates so that the NMS-aware evaluator can
    report AP without and with NMS in one pass; ``0.6`` is the paper's standalone inference.
    """

    @configurable
    def __init__(
        self,
        *,
        backbone,
        head: YOLOFDecoder,
        head_in_features: Optional[List[str]] = None,
        anchor_generator: DefaultAnchorGenerator,
        box2box_transform: CenterClampedBox2BoxTransform,
        assigner: YOLOFAssigner,
        num_classes: int,
        focal_loss_alpha: float = 0.25,
        focal_loss_gamma: float = 2.0,
        loss_normalizer_momentum: float = 0.0,
        test_score_thresh: float = 0.05,
        test_topk_candidates: int = 1000,
        test_nms_thresh: Optional[float] = 0.6,
        max_detections_per_image: int = 100,
        pixel_mean,
        pixel_std,
    ):
        """
        Args:
            anchor_generator: anchors of the single level; ``offset=0`` (anchor centres on the
                cell corners, as the public implementation).
            box2box_transform: delta coding with the +-32 px centre clamp.
            assigner: the label assignment (Uniform Matching or a Table 5e alternative).
            loss_normalizer_momentum: both losses are divided by the number of foreground anchors
                (averaged over the GPUs of a distributed run), smoothed by
                ``DenseDetector._ema_update`` with this momentum. 0 (default) is the public
                implementation's plain ``max(1, num_fg)`` of the current batch; 0.9 is detectron2
                RetinaNet's smoothing.
            test_nms_thresh: None (raw candidates) or a class-aware NMS threshold (0.6).
            Other arguments as in detectron2's :class:`RetinaNet`.
        """
        super().__init__(
            backbone, head, head_in_features, pixel_mean=pixel_mean, pixel_std=pixel_std
        )
        if len(self.head_in_features) != 1:
            raise ValueError(f"YOLOF detects on one feature level, got {self.head_in_features}")
        stride = backbone.output_shape()[self.head_in_features[0]].stride
        if list(anchor_generator.strides) != [stride]:
            raise ValueError(
                f"anchor_generator.strides={list(anchor_generator.strides)} must be [{stride}], the "
                f"stride of backbone feature {self.head_in_features[0]!r}"
            )
        if anchor_generator.num_cell_anchors != [head.num_anchors]:
            raise ValueError(
                f"the anchor generator places {anchor_generator.num_cell_anchors[0]} anchors per "
                f"location but head.num_anchors={head.num_anchors}"
            )
        self.num_classes = num_classes
        self.anchor_generator = anchor_generator
        self.box2box_transform = box2box_transform
        self.assigner = assigner
        self.focal_loss_alpha = focal_loss_alpha
        self.focal_loss_gamma = focal_loss_gamma
        self.loss_normalizer_momentum = loss_normalizer_momentum
        self.test_score_thresh = test_score_thresh
        self.test_topk_candidates = test_topk_candidates
        self.test_nms_thresh = test_nms_thresh
        self.max_detections_per_image = max_detections_per_image

    @classmethod
    def from_config(cls, cfg):
        backbone = build_backbone(cfg)
        c = cfg.MODEL.YOLOF
        shape = backbone.output_shape()["encoder"]
        anchor_generator = DefaultAnchorGenerator(
            sizes=cfg.MODEL.ANCHOR_GENERATOR.SIZES,
            aspect_ratios=cfg.MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS,
            strides=[shape.stride],
            offset=cfg.MODEL.ANCHOR_GENERATOR.OFFSET,
        )
        head = YOLOFDecoder(
            in_channels=shape.channels,
            num_classes=c.NUM_CLASSES,
            num_anchors=anchor_generator.num_cell_anchors[0],
            cls_num_convs=c.DECODER.CLS_NUM_CONVS,
            reg_num_convs=c.DECODER.REG_NUM_CONVS,
            norm=c.DECODER.NORM,
            prior_prob=c.DECODER.PRIOR_PROB,
        )
        nms = c.NMS_THRESH_TEST
        return {
            "backbone": backbone,
            "head": head,
            "head_in_features": ["encoder"],
            "anchor_generator": anchor_generator,
            "box2box_transform": CenterClampedBox2BoxTransform(
                weights=c.BBOX_REG_WEIGHTS, ctr_clamp=c.CTR_CLAMP
            ),
            "assigner": YOLOFAssigner(
                method=c.MATCHER.METHOD,
                topk=c.MATCHER.TOPK,
                neg_ignore_thresh=c.MATCHER.NEG_IGNORE_THRESH,
                pos_ignore_thresh=c.MATCHER.POS_IGNORE_THRESH,
                atss_topk=c.MATCHER.ATSS_TOPK,
            ),
            "num_classes": c.NUM_CLASSES,
            "focal_loss_alpha": c.FOCAL_LOSS_ALPHA,
            "focal_loss_gamma": c.FOCAL_LOSS_GAMMA,
            "loss_normalizer_momentum": c.LOSS_NORMALIZER_MOMENTUM,
            "test_score_thresh": c.SCORE_THRESH_TEST,
            "test_topk_candidates": c.TOPK_CANDIDATES_TEST,
            "test_nms_thresh": nms if nms >= 0 else None,
            "max_detections_per_image": cfg.TEST.DETECTIONS_PER_IMAGE,
            "pixel_mean": cfg.MODEL.PIXEL_MEAN,
            "pixel_std": cfg.MODEL.PIXEL_STD,
        }

    # ------------------------------------------------------------------------------ training
    def forward_training(self, images, features, predictions, gt_instances):
        (logits,), (deltas,) = self._transpose_dense_predictions(predictions, [self.num_classes, 4])
        (anchors,) = self.anchor_generator(features)
        assignments = self.label_anchors(anchors, deltas, gt_instances)
        return self.losses(anchors, logits, deltas, gt_instances, assignments)

    @torch.no_grad()
    def label_anchors(self, anchors: Boxes, deltas: torch.Tensor, gt_instances: List[Instances]):
        """One :class:`matchcost.Assignment` per image. Uniform Matching ranks the boxes decoded
        from the *current* deltas as well as the anchors (public implementation, yolof.md §2)."""
        assignments = []
        num_pos, num_unmatched = 0, 0
        for deltas_i, inst in zip(deltas, gt_instances):
            if len(inst) and int(inst.gt_classes.max()) >= self.num_classes:
                raise ValueError(
                    f"ground-truth class {int(inst.gt_classes.max())} >= model.num_classes="
                    f"{self.num_classes}: set num_classes to the dataset's number of classes"
                )
            pred_boxes = self.box2box_transform.apply_deltas(deltas_i.detach(), anchors.tensor)
            assignment = self.assigner(
                pred_boxes=pred_boxes, anchors=anchors.tensor, gt_boxes=inst.gt_boxes.tensor
            )
            assignments.append(assignment)
            num_pos += assignment.num_foreground
            num_unmatched += assignment.num_unmatched_gt
        storage = get_event_storage()
        storage.put_scalar("yolof/num_pos_per_image", num_pos / max(len(gt_instances), 1))
        storage.put_scalar("yolof/num_unmatched_gt", num_unmatched)
        return assignments

    def losses(self, anchors: Boxes, logits, deltas, gt_instances, assignments):
        """Sigmoid focal loss over non-ignored anchors + GIoU over the matched pairs, both divided
        by the number of foreground anchors (unique anchors; a pair repeated by Uniform Matching
        counts once there but every time in the GIoU sum, as the public implementation)."""
        gt_classes = torch.stack(
            [
                a.class_targets(inst.gt_classes, self.num_classes)
                for a, inst in zip(assignments, gt_instances)
            ]
        )  # (N, R): class, num_classes = background, -1 = ignore
        valid = gt_classes >= 0
        # unique foreground anchors, averaged over the GPUs as the reference (yolof.md §2)
        num_fg = mean_over_workers(
            int((valid & (gt_classes != self.num_classes)).sum()), logits.device
        )
        normalizer = self._ema_update(
            "loss_normalizer", max(num_fg, 1.0), 100, momentum=self.loss_normalizer_momentum
        )
        targets = F.one_hot(gt_classes[valid], self.num_classes + 1)[:, :-1].to(logits.dtype)
        loss_cls = sigmoid_focal_loss_jit(
            logits[valid],
            targets,
            alpha=self.focal_loss_alpha,
            gamma=self.focal_loss_gamma,
            reduction="sum",
        )

        pair_pred_boxes, pair_gt_boxes = [], []
        for deltas_i, inst, a in zip(deltas, gt_instances, assignments):
            keep = a.pair_valid if a.pair_valid is not None else slice(None)
            anchor_inds, gt_inds = a.pred_inds[keep], a.gt_inds[keep]
            pair_pred_boxes.append(
                self.box2box_transform.apply_deltas(
                    deltas_i[anchor_inds], anchors.tensor[anchor_inds]
                )
            )
            pair_gt_boxes.append(inst.gt_boxes.tensor[gt_inds])
        loss_box = giou_loss(cat(pair_pred_boxes), cat(pair_gt_boxes), eps=1e-7, reduction="sum")
        return {
            "loss_yolof_cls": loss_cls / normalizer,
            "loss_yolof_box_reg": loss_box / normalizer,
        }

    # ------------------------------------------------------------------------------ inference
    def forward_inference(self, images, features, predictions):
        (logits,), (deltas,) = self._transpose_dense_predictions(predictions, [self.num_classes, 4])
        anchors = self.anchor_generator(features)
        return detect_batch(self, anchors, [logits.sigmoid()], [deltas], images.image_sizes)
