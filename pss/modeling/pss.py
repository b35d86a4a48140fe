"""FCOS_PSS and ATSS_PSS: NMS-free detection with a positive sample selector.

"Object Detection Made Simpler by Eliminating Heuristic NMS" (Zhou et al., 2021). The base
detector (FCOS, or ATSS = RetinaNet with one square anchor per location and ATSS sampling) keeps
its one-to-many labels and losses (L_fcos); the PSS branch learns to single out one of those
positives per object (L_pss, L_rank), so the detections need no NMS. All label assignment comes
from :mod:`matchcost`. Shapes: N images, R locations (all levels, level-major), K classes,
G ground truths of one image.
"""

from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from fvcore.nn import giou_loss, sigmoid_focal_loss_jit

from detectron2.config import configurable
from detectron2.layers import cat
from detectron2.modeling import META_ARCH_REGISTRY, build_backbone
from detectron2.modeling.anchor_generator import DefaultAnchorGenerator
from detectron2.modeling.box_regression import Box2BoxTransform
from detectron2.structures import Boxes, Instances
from detectron2.utils.events import get_event_storage

import matchcost
from d2dense.modeling import FCOS, focal_loss_from_log_probs, mean_over_workers
from matchcost import Assignment, Candidates

from .head import PSSHead
from .losses import (
    base_log_scores,
    pss_log_scores,
    ranking_loss,
    ranking_negative_scores,
)

__all__ = ["PSSDetector", "FCOS_PSS", "ATSS_PSS", "centerness_targets"]

TRAINING_MODES = ("end_to_end", "base_only", "pss_only")
INFERENCE_MODES = ("pss", "one_to_many")
OMEGAS = ("positives", "prior")
SOLVERS = ("hungarian", "argmax")


def centerness_targets(points: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """FCOS centerness ``sqrt(min(l, r) / max(l, r) * min(t, b) / max(t, b))`` of ``(M, 2)`` points
    inside their ``(M, 4)`` boxes; used by FCOS and ATSS alike (ATSS measures from anchor centres).
    """
    ltrb = matchcost.elementwise_ltrb(points, boxes).clamp(min=0)
    left_right, top_bottom = ltrb[:, [0, 2]], ltrb[:, [1, 3]]
    ratio = (left_right.min(dim=1).values / left_right.max(dim=1).values.clamp(min=1e-6)) * (
        top_bottom.min(dim=1).values / top_bottom.max(dim=1).values.clamp(min=1e-6)
    )
    return ratio.sqrt()


class PSSDetector(FCOS):
    """Base detector + PSS branch; subclasses define the base detector's positives (Omega).

    The network and the box decoding are d2dense's FCOS (``box2box_transform`` and
    ``anchor_generator`` are swapped by ATSS_PSS). Every ablation of the paper is an argument:

    Args:
        head: a :class:`PSSHead` (PSS conv layers, branch, stop-grad on its input).
        box_reg_loss_weight: weight of the GIoU loss in L_fcos (2.0 in the PSS repository's
            mmdetection FCOS and ATSS configs).
        centerness_weighted_box_loss: weight each positive's GIoU loss by its centerness target and
            normalise by their sum, as mmdetection's FCOS / ATSS do; kept without the centerness
            branch (Sec. 4.2.5). False gives detectron2's FCOS loss (normalised by #positives).
        omega: Omega_j of Eq. 3. ``"positives"``: the locations the base detector labels positive
            for gt j (after its tie-break between overlapping gts) - the paper's "Omega_j is simply
            the positive samples used by the original detectors". ``"prior"``: before the
            tie-break (FCOS: every centre-sampling location of the gt, as the authors describe it
            in a Q&A; ATSS: every ATSS-selected anchor).
        one_to_one_solver: ``"hungarian"`` (Sec. 3.3) or ``"argmax"`` (the "top-one selection"
            the paper reports as similar; conflicts are won by the higher quality).
        quality_alpha, quality_mode: alpha and ``"mul"`` (Eq. 3) / ``"add"`` (Table 8).
        pss_loss_weight: lambda_1 of Eq. 1 (Table 7).
        pss_score_stop_grad: treat ``sigma(s) * sigma(ctr)`` inside P-hat as constants in L_pss
            and L_rank. With the head's ``pss_stop_grad`` this makes the PSS losses' gradient on
            the base network exactly zero (Sec. 3.5: "the PSS head is set to be constant, thus
            zero gradients from PSS go backward"). False lets them reach the classification and
            centerness predictors through P-hat (footnote 4 reads as if the authors did that).
        rank_loss_weight, rank_margin, rank_num_negatives, rank_negatives: lambda_2 (0.25; 0
            disables L_rank, Table 9), gamma (0.5), n_- (100) of Eq. 2 and how negatives are
            scored (see :func:`~pss.modeling.losses.ranking_negative_scores`).
        training_mode: ``"end_to_end"`` (the paper); ``"base_only"``: the base detector alone
            (the FCOS / ATSS baseline and step one of the two-step training, the PSS branch is not
            trained); ``"pss_only"``: step two (Sec. 4.2.2), the base detector is frozen, BN
            statistics included, and only the PSS branch is trained.
        inference_mode: ``"pss"``: score P-hat (Eq. 4), top-k, no NMS; ``"one_to_many"``: discard
            the PSS branch and score as the base detector, ``sqrt(sigma(s) * sigma(ctr))``
            ("one-to-many pred." of Tables 2, 4-6; pair it with NMS).
        test_nms_thresh: None (raw output; the NMS-aware evaluator adds the w/ NMS column) or a
            class-aware NMS threshold.
        Other arguments as in d2dense's :class:`FCOS`.
    """

    base_loss_prefix = "fcos"

    @configurable
    def __init__(
        self,
        *,
        head: PSSHead,
        box_reg_loss_weight: float = 2.0,
        centerness_weighted_box_loss: bool = True,
        omega: str = "positives",
        one_to_one_solver: str = "hungarian",
        quality_alpha: float = 0.8,
        quality_mode: str = "mul",
        pss_loss_weight: float = 1.0,
        pss_score_stop_grad: bool = True,
        rank_loss_weight: float = 0.25,
        rank_margin: float = 0.5,
        rank_num_negatives: int = 100,
        rank_negatives: str = "max_class",
        training_mode: str = "end_to_end",
        inference_mode: str = "pss",
        test_nms_thresh: Optional[float] = None,
        **kwargs,
    ):
        super().__init__(head=head, test_nms_thresh=test_nms_thresh, **kwargs)
        for name, value, allowed in (
            ("omega", omega, OMEGAS),
            ("one_to_one_solver", one_to_one_solver, SOLVERS),
            ("quality_mode", quality_mode, ("mul", "add")),
            ("training_mode", training_mode, TRAINING_MODES),
            ("inference_mode", inference_mode, INFERENCE_MODES),
        ):
            if value not in allowed:
                raise ValueError(f"{type(self).__name__}: {name}={value!r} is not one of {allowed}")
        if training_mode == "base_only" and inference_mode == "pss":
            raise ValueError(
                "training_mode='base_only' leaves the PSS branch untrained: use inference_mode='one_to_many'"
            )
        if self.use_centerness != head.use_centerness:
            raise ValueError("use_centerness must match head.use_centerness")
        self.box_reg_loss_weight = box_reg_loss_weight
        self.centerness_weighted_box_loss = centerness_weighted_box_loss
        self.omega = omega
        self.one_to_one_solver = one_to_one_solver
        self.quality_alpha = quality_alpha
        self.quality_mode = quality_mode
        self.pss_loss_weight = pss_loss_weight
        self.pss_score_stop_grad = pss_score_stop_grad
        self.rank_loss_weight = rank_loss_weight
        self.rank_margin = rank_margin
        self.rank_num_negatives = rank_num_negatives
        self.rank_negatives = rank_negatives
        self.training_mode = training_mode
        self.inference_mode = inference_mode

        pss_params = {id(p) for p in head.pss_parameters()}
        for param in self.parameters():
            is_pss = id(param) in pss_params
            if (training_mode == "base_only" and is_pss) or (
                training_mode == "pss_only" and not is_pss
            ):
                param.requires_grad_(False)

    @classmethod
    def from_config(cls, cfg):
        backbone = build_backbone(cfg)
        shapes = backbone.output_shape()
        c = cfg.MODEL.PSS
        head = PSSHead(
            input_shape=[shapes[f] for f in c.IN_FEATURES],
            num_classes=c.NUM_CLASSES,
            conv_dims=[shapes[c.IN_FEATURES[0]].channels] * c.NUM_CONVS,
            norm=c.NORM,
            learnable_level_scales=c.LEVEL_SCALES,
            prior_prob=c.PRIOR_PROB,
            use_centerness=c.USE_CENTERNESS,
            pss_num_convs=c.PSS_NUM_CONVS,
            pss_branch=c.PSS_BRANCH,
            pss_norm=c.PSS_NORM,
            pss_stop_grad=c.PSS_STOP_GRAD,
        )
        return {
            "backbone": backbone,
            "head": head,
            "head_in_features": c.IN_FEATURES,
            "num_classes": c.NUM_CLASSES,
            "use_centerness": c.USE_CENTERNESS,
            "focal_loss_alpha": c.FOCAL_LOSS_ALPHA,
            "focal_loss_gamma": c.FOCAL_LOSS_GAMMA,
            "box_reg_loss_weight": c.BOX_REG_LOSS_WEIGHT,
            "centerness_weighted_box_loss": c.CENTERNESS_WEIGHTED_BOX_LOSS,
            "omega": c.OMEGA,
            "one_to_one_solver": c.ONE_TO_ONE_SOLVER,
            "quality_alpha": c.QUALITY_ALPHA,
            "quality_mode": c.QUALITY_MODE,
            "pss_loss_weight": c.PSS_LOSS_WEIGHT,
            "pss_score_stop_grad": c.PSS_SCORE_STOP_GRAD,
            "rank_loss_weight": c.RANK_LOSS_WEIGHT,
            "rank_margin": c.RANK_MARGIN,
            "rank_num_negatives": c.RANK_NUM_NEGATIVES,
            "rank_negatives": c.RANK_NEGATIVES,
            "training_mode": c.TRAINING_MODE,
            "inference_mode": c.INFERENCE_MODE,
            "test_score_thresh": c.SCORE_THRESH_TEST,
            "test_topk_candidates": c.TOPK_CANDIDATES_TEST,
            "test_nms_thresh": c.NMS_THRESH_TEST if c.NMS_THRESH_TEST >= 0 else None,
            "max_detections_per_image": cfg.TEST.DETECTIONS_PER_IMAGE,
            "pixel_mean": cfg.MODEL.PIXEL_MEAN,
            "pixel_std": cfg.MODEL.PIXEL_STD,
        }

    def train(self, mode: bool = True):
        super().train(mode)
        if self.training_mode == "pss_only":
            # Step two of Sec. 4.2.2 trains the PSS branch on a frozen detector: its BN layers
            # (the small CPU variant's backbone) keep their statistics too.
            pss_modules = {id(m) for m in (self.head.pss_subnet, self.head.pss_pred)}
            self.backbone.eval()
            for child in self.head.children():
                if id(child) not in pss_modules:
                    child.eval()
        return self

    # ------------------------------------------------------------------------------ common
    def _split_predictions(self, predictions):
        """-> per-level lists (N, R_l, K), (N, R_l, 4), (N, R_l, 1) or None, (N, R_l, 1)."""
        if self.use_centerness:
            return self._transpose_dense_predictions(predictions, [self.num_classes, 4, 1, 1])
        logits, deltas, pss = self._transpose_dense_predictions(
            predictions, [self.num_classes, 4, 1]
        )
        return logits, deltas, None, pss

    def _base_candidates(
        self, anchors: Boxes, num_anchors_per_level: List[int], gt_boxes: torch.Tensor
    ) -> Tuple[Candidates, torch.Tensor, bool]:
        """The base detector's one-to-many rule before its tie-break, for one image: candidates,
        the per-pair value that settles a location claimed by several gts, and whether the
        largest value wins."""
        raise NotImplementedError

    # ------------------------------------------------------------------------------ training
    def forward_training(self, images, features, predictions, gt_instances):
        pred_logits, pred_deltas, pred_ctrness, pred_pss = self._split_predictions(predictions)
        anchors = self.anchor_generator(features)
        logits = cat(pred_logits, dim=1)  # (N, R, K)
        deltas = cat(pred_deltas, dim=1)  # (N, R, 4)
        ctrness = cat(pred_ctrness, dim=1) if pred_ctrness is not None else None  # (N, R, 1)
        pss = cat(pred_pss, dim=1)  # (N, R, 1)
        one_to_many, omegas = self.label_one_to_many(anchors, gt_instances)
        losses = {}
        if self.training_mode != "pss_only":
            losses.update(
                self.base_losses(anchors, logits, deltas, ctrness, one_to_many, gt_instances)
            )
        if self.training_mode != "base_only":
            losses.update(
                self.pss_losses(anchors, logits, deltas, ctrness, pss, omegas, gt_instances)
            )
        return losses

    @torch.no_grad()
    def label_one_to_many(
        self, anchors: List[Boxes], gt_instances: List[Instances]
    ) -> Tuple[List[Assignment], List[Candidates]]:
        """Per image: the base detector's one-to-many assignment (L_fcos) and Omega (Eq. 3)."""
        num_anchors_per_level = [len(a) for a in anchors]
        anchors = Boxes.cat(anchors)
        assignments, omegas = [], []
        num_pos = 0
        for inst in gt_instances:
            if len(inst) and int(inst.gt_classes.max()) >= self.num_classes:
                raise ValueError(
                    f"ground-truth class {int(inst.gt_classes.max())} >= model.num_classes="
                    f"{self.num_classes}: set num_classes to the dataset's number of classes"
                )
            candidates, tie_value, largest = self._base_candidates(
                anchors, num_anchors_per_level, inst.gt_boxes.tensor
            )
            assignment = matchcost.exclusive_by(candidates, tie_value, largest=largest)
            assignments.append(assignment)
            if self.omega == "prior":
                omegas.append(candidates)
            else:
                omegas.append(
                    Candidates(
                        assignment.gt_inds,
                        assignment.pred_inds,
                        assignment.num_gt,
                        assignment.num_pred,
                    )
                )
            num_pos += assignment.num_foreground
        get_event_storage().put_scalar(
            "pss/num_one_to_many_pos_per_image", num_pos / max(len(gt_instances), 1)
        )
        return assignments, omegas

    @staticmethod
    def _matched_boxes(
        assignments: List[Assignment], gt_instances: List[Instances]
    ) -> torch.Tensor:
        """(N, R, 4): each location's assigned gt box (arbitrary for background locations)."""
        boxes = []
        for a, inst in zip(assignments, gt_instances):
            gt = inst.gt_boxes.tensor
            boxes.append(gt[a.labels.clamp(min=0)] if len(gt) else gt.new_zeros(a.num_pred, 4))
        return torch.stack(boxes)

    def base_losses(self, anchors, logits, deltas, ctrness, one_to_many, gt_instances):
        """L_fcos (Sec. 3.1): focal loss, GIoU loss and centerness BCE on the one-to-many labels."""
        gt_labels = torch.stack(
            [
                a.class_targets(i.gt_classes, self.num_classes)
                for a, i in zip(one_to_many, gt_instances)
            ]
        )
        pos_mask = (gt_labels >= 0) & (gt_labels != self.num_classes)
        # positives averaged over the GPUs (mmdetection's reduce_mean), then detectron2's EMA
        num_pos = mean_over_workers(int(pos_mask.sum()), pos_mask.device)
        normalizer = self._ema_update("loss_normalizer", max(num_pos, 1.0), 100)
        targets = F.one_hot(gt_labels.clamp(min=0), self.num_classes + 1)[..., :-1].to(logits.dtype)
        loss_cls = sigmoid_focal_loss_jit(
            logits[gt_labels >= 0],
            targets[gt_labels >= 0],
            alpha=self.focal_loss_alpha,
            gamma=self.focal_loss_gamma,
            reduction="sum",
        )

        anchors = Boxes.cat(anchors)
        anchor_idx = pos_mask.nonzero(as_tuple=True)[1]
        target_boxes = self._matched_boxes(one_to_many, gt_instances)[pos_mask]
        pred_boxes = self.box2box_transform.apply_deltas(
            deltas[pos_mask], anchors.tensor[anchor_idx]
        )
        ctr_targets = centerness_targets(anchors.get_centers()[anchor_idx], target_boxes)
        loss_giou = giou_loss(pred_boxes, target_boxes, reduction="none")
        if self.centerness_weighted_box_loss:
            ctr_normalizer = self._ema_update(
                "loss_centerness_normalizer",
                max(mean_over_workers(float(ctr_targets.sum()), ctr_targets.device), 1e-6),
                100,
            )
            loss_loc = (loss_giou * ctr_targets).sum() / ctr_normalizer
        else:
            loss_loc = loss_giou.sum() / normalizer
        p = self.base_loss_prefix
        losses = {
            f"loss_{p}_cls": loss_cls / normalizer,
            f"loss_{p}_loc": self.box_reg_loss_weight * loss_loc,
        }
        if ctrness is not None:
            loss_ctr = F.binary_cross_entropy_with_logits(
                ctrness[pos_mask][:, 0], ctr_targets, reduction="sum"
            )
            losses[f"loss_{p}_ctr"] = loss_ctr / normalizer
        return losses

    def pss_losses(self, anchors, logits, deltas, ctrness, pss, omegas, gt_instances):
        """lambda_1 L_pss + lambda_2 L_rank (Eq. 1) on the one-to-one labels of Eq. 3."""
        base_scores = base_log_scores(logits, ctrness)
        if self.pss_score_stop_grad:
            base_scores = base_scores.detach()
        log_scores = F.logsigmoid(pss) + base_scores  # log P-hat (Eq. 4), (N, R, K)

        one_to_one = self.label_one_to_one(
            anchors, log_scores.detach().exp(), deltas.detach(), omegas, gt_instances
        )
        gt_labels = torch.stack(
            [
                a.class_targets(i.gt_classes, self.num_classes)
                for a, i in zip(one_to_one, gt_instances)
            ]
        )
        pos_mask = gt_labels != self.num_classes
        num_pos = mean_over_workers(int(pos_mask.sum()), pos_mask.device)
        normalizer = self._ema_update("loss_pss_normalizer", max(num_pos, 1.0), 100)
        targets = F.one_hot(gt_labels, self.num_classes + 1)[..., :-1].to(log_scores.dtype)
        loss_pss = focal_loss_from_log_probs(
            log_scores, targets, self.focal_loss_alpha, self.focal_loss_gamma
        )
        losses = {"loss_pss_cls": self.pss_loss_weight * loss_pss / normalizer}
        if self.rank_loss_weight > 0:
            scores = log_scores.exp()
            per_image = [
                ranking_loss(
                    scores[i][pos_mask[i], gt_labels[i][pos_mask[i]]],
                    ranking_negative_scores(
                        scores[i], pos_mask[i], self.rank_num_negatives, self.rank_negatives
                    ),
                    self.rank_margin,
                )
                for i in range(len(gt_instances))
                if pos_mask[i].any()
            ]
            # Eq. 2 is a per-image loss: average over the images that have a positive.
            loss_rank = torch.stack(per_image).mean() if per_image else scores.sum() * 0
            losses["loss_pss_rank"] = self.rank_loss_weight * loss_rank
        return losses

    @torch.no_grad()
    def label_one_to_one(self, anchors, scores, deltas, omegas, gt_instances) -> List[Assignment]:
        """Eq. 3 per image: maximise sum_j 1[i in Omega_j] P-hat_i(c_j)^(1-alpha) IoU(b_i, b_j)^alpha."""
        anchors = Boxes.cat(anchors).tensor
        assignments = []
        num_unmatched = 0
        for i, inst in enumerate(gt_instances):
            pred_boxes = self.box2box_transform.apply_deltas(deltas[i], anchors)
            assignment = matchcost.pss_assign(
                scores[i],
                pred_boxes,
                inst.gt_boxes.tensor,
                inst.gt_classes,
                omegas[i],
                alpha=self.quality_alpha,
                mode=self.quality_mode,
                solver=self.one_to_one_solver,
            )
            assignments.append(assignment)
            num_unmatched += assignment.num_unmatched_gt
        get_event_storage().put_scalar("pss/num_unmatched_gt", num_unmatched)
        return assignments

    # ------------------------------------------------------------------------------ inference
    def forward_inference(self, images, features, predictions):
        pred_logits, pred_deltas, pred_ctrness, pred_pss = self._split_predictions(predictions)
        anchors = self.anchor_generator(features)
        results: List[Instances] = []
        for img_idx, image_size in enumerate(images.image_sizes):
            logits = [x[img_idx] for x in pred_logits]
            ctrness = (
                [x[img_idx] for x in pred_ctrness]
                if pred_ctrness is not None
                else [None] * len(logits)
            )
            if self.inference_mode == "pss":
                scores = [
                    pss_log_scores(p[img_idx], s, c).exp()
                    for p, s, c in zip(pred_pss, logits, ctrness)
                ]
            elif self.use_centerness:
                scores = [torch.sqrt(s.sigmoid() * c.sigmoid()) for s, c in zip(logits, ctrness)]
            else:
                scores = [s.sigmoid() for s in logits]
            deltas = [x[img_idx] for x in pred_deltas]
            results.append(self.inference_single_image(anchors, scores, deltas, image_size))
        return results


@META_ARCH_REGISTRY.register()
class FCOS_PSS(PSSDetector):
    """FCOS + PSS (Fig. 1). Omega: FCOS centre sampling (radius ``center_sampling_radius``
    strides) within the level's size range, ties to the smallest gt (:func:`matchcost.fcos_prior`).
    """

    @classmethod
    def from_config(cls, cfg):
        return {
            **super().from_config(cfg),
            "center_sampling_radius": cfg.MODEL.PSS.CENTER_SAMPLING_RADIUS,
        }

    def _base_candidates(self, anchors, num_anchors_per_level, gt_boxes):
        strides = anchors.tensor[:, 2] - anchors.tensor[:, 0]  # FCOS "anchors" are stride-sized
        candidates = matchcost.fcos_prior(
            anchors.get_centers(),
            gt_boxes,
            strides,
            num_points_per_level=num_anchors_per_level,
            radius=self.center_sampling_radius,
        )
        return candidates, matchcost.box_area(gt_boxes)[candidates.gt], False


@META_ARCH_REGISTRY.register()
class ATSS_PSS(PSSDetector):
    """ATSS + PSS: RetinaNet with one square anchor of side ``anchor_scale * stride`` per location,
    ATSS sampling (``atss_topk`` per level; ties to the highest IoU, :func:`matchcost.atss_prior`),
    deltas with weights (10, 10, 5, 5) (mmdetection's stds 0.1, 0.1, 0.2, 0.2) and centerness."""

    base_loss_prefix = "atss"

    @configurable
    def __init__(
        self, *, anchor_scale: float = 8.0, atss_topk: int = 9, box2box_transform=None, **kwargs
    ):
        super().__init__(
            box2box_transform=box2box_transform or Box2BoxTransform(weights=(10.0, 10.0, 5.0, 5.0)),
            **kwargs,
        )
        strides = [self.backbone.output_shape()[k].stride for k in self.head_in_features]
        # Anchor centres on the stride grid (offset 0), as detectron2's RetinaNet and mmdetection's ATSS.
        self.anchor_generator = DefaultAnchorGenerator(
            sizes=[[anchor_scale * s] for s in strides],
            aspect_ratios=[1.0],
            strides=strides,
            offset=0.0,
        )
        self.atss_topk = atss_topk

    @classmethod
    def from_config(cls, cfg):
        c = cfg.MODEL.PSS
        return {
            **super().from_config(cfg),
            "anchor_scale": c.ANCHOR_SCALE,
            "atss_topk": c.ATSS_TOPK,
        }

    def _base_candidates(self, anchors, num_anchors_per_level, gt_boxes):
        candidates, iou = matchcost.atss_prior(
            anchors.tensor, gt_boxes, num_anchors_per_level, self.atss_topk, return_iou=True
        )
        return candidates, iou, True
