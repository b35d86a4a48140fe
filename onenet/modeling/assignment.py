"""OneNet label assignment: a thin, config-friendly front for :mod:`matchcost`.

The one-to-one rule of "What Makes for End-to-End Object Detection?" (Eq. 2-5: minimum matching
cost ``C = lambda_cls C_cls + lambda_L1 C_L1 + lambda_giou C_giou``) is
:func:`matchcost.onenet_assign`; the one-to-many rules of the original detectors (Table 1, grey
rows) are :func:`matchcost.max_iou_assign` (RetinaNet) and :func:`matchcost.fcos_assign` (FCOS, and
the CenterNet-style detector on its single level). This class only chooses the rule, builds the
boxes the location cost is computed on, and passes the tensors of one image.
"""

from typing import Optional, Sequence, Tuple

import torch

import matchcost
from matchcost import FCOS_SCALE_RANGES, Assignment

__all__ = ["OneNetAssigner"]

ASSIGNMENTS = ("one_to_one", "max_iou", "fcos")
LOCATION_COSTS = ("predicted", "predefined")
CANDIDATES = ("anchor_boxes", "points")
SOLVERS = ("min_cost", "hungarian")


class OneNetAssigner:
    """Positive-sample assignment of one image (paper Sec. 3.2-3.3).

    Args:
        assignment: ``"one_to_one"`` (Sec. 3.2: the single minimum-cost sample per gt), or a
            one-to-many rule of the original detectors: ``"max_iou"`` (RetinaNet: IoU >= 0.5
            positive, < 0.4 negative, in between ignored) or ``"fcos"`` (centre sampling of
            ``center_sampling_radius`` strides inside the box, per-level ``scale_ranges``,
            smallest-area gt wins).
        location_cost: ``"predicted"`` (cost on the boxes the network predicts) or ``"predefined"``
            (cost on the object candidates themselves, Sec. 3.3 and Table 2 "pre-def.").
        candidates: what the pre-defined object candidates are: ``"anchor_boxes"`` (RetinaNet: L1 +
            GIoU on the anchors) or ``"points"`` (FCOS, CenterNet: Eq. 4 with ``lambda_iou = 0``;
            the L1 distance between the point and the gt centre, both written as degenerate xyxy
            boxes ``(x, y, x, y)`` - exactly OneNet's ``cdist(x0 + x1, y0 + y1)`` on
            image-normalised boxes).
        solver: ``"min_cost"`` (each gt its argmin; two gts may share a sample - Dec-2020 OneNet) or
            ``"hungarian"`` (exact bipartite matching, the paper's "to avoid sample conflict").
        weight_class, weight_l1, weight_giou: ``lambda_cls``, ``lambda_L1``, ``lambda_giou`` (2, 5,
            2); ``weight_class=0`` is the location-cost-only assignment of Table 2.
        fpn_level_prior: restrict each gt to the points of its pre-defined FPN level (the level
            whose ``scale_ranges`` entry holds ``max(w, h) / 2``): "For FCOS, the positive sample is
            chosen from the pre-defined layer in feature pyramids" (Sec. 3.3).
        focal_alpha, focal_gamma: of the focal classification cost ``C_cls``.
        center_sampling_radius, scale_ranges: of the ``"fcos"`` rule (and of ``fpn_level_prior``);
            ``scale_ranges=None`` means a single level (the CenterNet-style detector).
    """

    def __init__(
        self,
        *,
        assignment: str = "one_to_one",
        location_cost: str = "predicted",
        candidates: str = "points",
        solver: str = "min_cost",
        weight_class: float = 2.0,
        weight_l1: float = 5.0,
        weight_giou: float = 2.0,
        fpn_level_prior: bool = False,
        focal_alpha: float = 0.25,
        focal_gamma: float = 2.0,
        center_sampling_radius: float = 1.5,
        scale_ranges: Optional[Sequence[Tuple[float, float]]] = FCOS_SCALE_RANGES,
    ):
        for name, value, allowed in (
            ("assignment", assignment, ASSIGNMENTS),
            ("location_cost", location_cost, LOCATION_COSTS),
            ("candidates", candidates, CANDIDATES),
            ("solver", solver, SOLVERS),
        ):
            if value not in allowed:
                raise ValueError(f"OneNetAssigner: {name}={value!r} is not one of {allowed}")
        if fpn_level_prior and scale_ranges is None:
            raise ValueError("OneNetAssigner: fpn_level_prior needs the per-level scale_ranges")
        self.assignment = assignment
        self.location_cost = location_cost
        self.candidates = candidates
        self.solver = solver
        self.weight_class = weight_class
        self.weight_l1 = weight_l1
        self.weight_giou = weight_giou
        self.fpn_level_prior = fpn_level_prior
        self.focal_alpha = focal_alpha
        self.focal_gamma = focal_gamma
        self.center_sampling_radius = center_sampling_radius
        self.scale_ranges = None if scale_ranges is None else [tuple(r) for r in scale_ranges]

    def __repr__(self):
        if self.assignment != "one_to_one":
            return f"OneNetAssigner(assignment={self.assignment})"
        return (
            f"OneNetAssigner(one_to_one, location_cost={self.location_cost}, "
            f"candidates={self.candidates}, solver={self.solver}, "
            f"weights=({self.weight_class}, {self.weight_l1}, {self.weight_giou}), "
            f"fpn_level_prior={self.fpn_level_prior})"
        )

    def cost_inputs(self, anchors: torch.Tensor, pred_boxes: torch.Tensor, gt_boxes: torch.Tensor):
        """Sample boxes, gt boxes and lambda_giou of the one-to-one cost (Sec. 3.3)."""
        if self.location_cost == "predicted":
            return pred_boxes, gt_boxes, self.weight_giou
        if self.candidates == "anchor_boxes":
            return anchors, gt_boxes, self.weight_giou
        points = matchcost.box_centers(anchors)
        centers = matchcost.box_centers(gt_boxes)
        return torch.cat((points, points), dim=1), torch.cat((centers, centers), dim=1), 0.0

    @torch.no_grad()
    def __call__(
        self,
        *,
        anchors: torch.Tensor,
        num_anchors_per_level: Sequence[int],
        strides: Sequence[int],
        probs: torch.Tensor,
        pred_boxes: torch.Tensor,
        gt_boxes: torch.Tensor,
        gt_classes: torch.Tensor,
        image_size: Tuple[int, int],
    ) -> Assignment:
        """One image. ``anchors`` ``(R, 4)`` the pre-defined candidates (a point is the centre of
        its stride-sized box), ``probs`` ``(R, K)`` sigmoid class probabilities, ``pred_boxes``
        ``(R, 4)`` decoded predictions, ``image_size`` ``(h, w)`` of the unpadded input (L1
        normaliser)."""
        if self.assignment == "max_iou":
            return matchcost.max_iou_assign(anchors, gt_boxes)
        if self.assignment == "fcos":
            return matchcost.fcos_assign(
                matchcost.box_centers(anchors),
                gt_boxes,
                [float(s) for s in strides],
                num_points_per_level=num_anchors_per_level,
                radius=self.center_sampling_radius,
                scale_ranges=self.scale_ranges,
            )
        sample_boxes, target_boxes, weight_giou = self.cost_inputs(anchors, pred_boxes, gt_boxes)
        level_prior = (
            matchcost.fpn_level_prior(gt_boxes, num_anchors_per_level, self.scale_ranges)
            if self.fpn_level_prior
            else None
        )
        return matchcost.onenet_assign(
            probs if self.weight_class != 0 else None,
            sample_boxes,
            target_boxes,
            gt_classes,
            image_size,
            solver=self.solver,
            candidates=level_prior,
            weight_class=self.weight_class,
            weight_l1=self.weight_l1,
            weight_giou=weight_giou,
            alpha=self.focal_alpha,
            gamma=self.focal_gamma,
        )
