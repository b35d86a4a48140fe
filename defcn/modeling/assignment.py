"""DeFCN label assignment: a thin, config-friendly front for :mod:`matchcost`.

Every rule of the paper's Table 1 and the auxiliary rule of Sec. 3.2.3 live in ``matchcost``; this
class only carries the chosen rule and its hyper-parameters (so a LazyConfig can set them) and
calls the right function with DeFCN's tensors.
"""

from typing import List

import torch

import matchcost
from matchcost import Assignment

__all__ = ["DeFCNAssigner"]

METHODS = ("poto", "fg_loss", "anchor", "center", "fcos")
SOLVERS = ("hungarian", "argmax")
PRIORS = ("center", "inside", "global")


class DeFCNAssigner:
    """Label assignment of DeFCN's main loss (and of its auxiliary loss).

    Args:
        method: ``"poto"`` (Eq. 3-4, the paper), ``"fg_loss"`` (Eq. 2: min foreground-loss cost,
            Hungarian), ``"anchor"`` / ``"center"`` (the hand-designed one-to-one rules of Table 1),
            ``"fcos"`` (FCOS one-to-many: center sampling + scale ranges; the baseline).
        solver: ``"hungarian"`` (exact, Eq. 3) or ``"argmax"`` (each gt its best point; the
            reference's faster variant). Used by ``poto``.
        alpha: POTO's balance between classification and IoU (0.8).
        quality: ``"mul"`` (Eq. 4) or ``"add"`` (Table 4).
        spatial_prior: ``"center"`` (radius ``center_sampling_radius`` strides, COCO), ``"inside"``
            (CrowdHuman) or ``"global"`` (Table 3). Used by ``poto``, ``fg_loss`` and ``fcos``
            (which has no global form).
        aux_topk: candidates per level of the auxiliary rule (9).
        anchor_scale: the ``anchor`` rule's square anchor side in strides (4: RetinaNet's 1:1
            anchor of 32 px on P3, the reference's setting).
        unmatched: a gt whose prior holds no point (tiny boxes): ``"drop"`` gives it no positive
            (logged); ``"reference"`` reproduces the public code, which labels some point outside
            the box positive with a regression target pointing outside (see matchcost.solvers).
    """

    def __init__(
        self,
        *,
        method: str = "poto",
        solver: str = "hungarian",
        alpha: float = 0.8,
        quality: str = "mul",
        spatial_prior: str = "center",
        center_sampling_radius: float = 1.5,
        aux_topk: int = 9,
        anchor_scale: float = 4.0,
        unmatched: str = "drop",
    ):
        for name, value, allowed in (
            ("method", method, METHODS),
            ("solver", solver, SOLVERS),
            ("spatial_prior", spatial_prior, PRIORS),
            ("quality", quality, ("mul", "add")),
        ):
            if value not in allowed:
                raise ValueError(f"DeFCNAssigner: {name}={value!r} is not one of {allowed}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"DeFCNAssigner: alpha must be in [0, 1], got {alpha}")
        # A knob the chosen rule does not read must keep its default: an override that silently
        # does nothing would make an ablation row lie. (alpha and quality always matter: the
        # auxiliary rule uses them.)
        ignored = {
            "fg_loss": {"solver": "hungarian"},
            "anchor": {"solver": "hungarian", "spatial_prior": "center"},
            "center": {"solver": "hungarian", "spatial_prior": "center"},
            "fcos": {"solver": "hungarian"},
        }.get(method, {})
        given = dict(solver=solver, spatial_prior=spatial_prior)
        for key, default in ignored.items():
            if given[key] != default:
                raise ValueError(
                    f"DeFCNAssigner: method={method!r} does not use {key} (got {given[key]!r}); "
                    f"leave model.assigner.{key} at {default!r}"
                )
        if method == "fcos" and spatial_prior == "global":
            raise ValueError(
                "DeFCNAssigner: method='fcos' needs spatial_prior 'center' or 'inside'"
            )
        self.method = method
        self.solver = solver
        self.alpha = alpha
        self.quality = quality
        self.spatial_prior = spatial_prior
        self.center_sampling_radius = center_sampling_radius
        self.aux_topk = aux_topk
        self.anchor_scale = anchor_scale
        self.unmatched = unmatched

    def __repr__(self):
        return (
            f"DeFCNAssigner(method={self.method}, solver={self.solver}, alpha={self.alpha}, "
            f"quality={self.quality}, prior={self.spatial_prior}, radius={self.center_sampling_radius}, "
            f"aux_topk={self.aux_topk}, anchor_scale={self.anchor_scale}, unmatched={self.unmatched})"
        )

    @torch.no_grad()
    def __call__(
        self,
        *,
        points: torch.Tensor,
        strides: torch.Tensor,
        num_points_per_level: List[int],
        scores: torch.Tensor,
        pred_boxes: torch.Tensor,
        gt_boxes: torch.Tensor,
        gt_classes: torch.Tensor,
    ) -> Assignment:
        """One image. ``scores``: (R, K) probabilities used for matching (with 3DMF the product
        ``sigmoid(cls) * sigmoid(filter)``); ``pred_boxes``: (R, 4) decoded xyxy boxes."""
        levels = dict(points=points, strides=strides, num_points_per_level=num_points_per_level)
        if self.method == "poto":
            main = matchcost.poto_assign(
                scores,
                pred_boxes,
                gt_boxes,
                gt_classes,
                prior=self.spatial_prior,
                radius=self.center_sampling_radius,
                alpha=self.alpha,
                mode=self.quality,
                solver=self.solver,
                unmatched=self.unmatched,
                **levels,
            )
        elif self.method == "fg_loss":
            main = matchcost.foreground_loss_assign(
                scores,
                pred_boxes,
                gt_boxes,
                gt_classes,
                prior=self.spatial_prior,
                radius=self.center_sampling_radius,
                unmatched=self.unmatched,
                **levels,
            )
        elif self.method == "anchor":
            main = matchcost.anchor_rule_assign(
                points,
                gt_boxes,
                strides,
                num_points_per_level=num_points_per_level,
                anchor_scale=self.anchor_scale,
            )
        elif self.method == "center":
            main = matchcost.center_rule_assign(
                points, gt_boxes, strides, num_points_per_level=num_points_per_level
            )
        else:  # fcos
            main = matchcost.fcos_assign(
                points,
                gt_boxes,
                strides,
                num_points_per_level=num_points_per_level,
                # FCOS's "inside box" form is centre sampling with radius 0
                radius=self.center_sampling_radius if self.spatial_prior == "center" else 0.0,
            )
        return main

    @torch.no_grad()
    def auxiliary(
        self,
        *,
        points: torch.Tensor,
        num_points_per_level: List[int],
        scores: torch.Tensor,
        pred_boxes: torch.Tensor,
        gt_boxes: torch.Tensor,
        gt_classes: torch.Tensor,
    ) -> Assignment:
        """Sec. 3.2.3 one-to-many rule; ``scores`` is ``sigmoid(cls)`` (no 3DMF filter)."""
        return matchcost.defcn_aux_assign(
            scores,
            pred_boxes,
            gt_boxes,
            gt_classes,
            points,
            num_points_per_level=num_points_per_level,
            alpha=self.alpha,
            mode=self.quality,
            topk=self.aux_topk,
        )
