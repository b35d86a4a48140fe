"""The ltrb box coding of the FCOS-style heads, with an optional gradient below zero.

detectron2's :class:`Box2BoxTransformLinear` decodes ``relu(deltas)`` (distances to the four sides,
times the stride when ``normalize_by_size``). Its ReLU has zero gradient below zero, so a side
whose raw output becomes negative at every positive sample never gets a gradient again: the side
is "dead" and the box collapses onto the anchor point on that side. We observed this when
training one-to-one FCOS from scratch (OneNet, location cost only, CPU recipe): after an early
overshoot the right-side channel was negative at every location of every level, every box
ended at its point, and AP fell to 1.4.

:class:`LinearBoxCoder` decodes exactly the same boxes (the forward is detectron2's). With
``negative_grad_slope > 0`` it passes ``slope * grad`` to a negative raw output at training time
(a straight-through ReLU): the boxes, the losses and inference are unchanged, but a dead side
gets the gradient that pulls it back towards its (positive) target distance.
"""

import logging

import torch
from detectron2.modeling.box_regression import Box2BoxTransformLinear
from detectron2.utils.events import get_event_storage
from detectron2.utils.logger import log_every_n_seconds

__all__ = ["LinearBoxCoder", "relu_with_negative_grad", "check_clamped_box_sides"]


def relu_with_negative_grad(x: torch.Tensor, slope: float) -> torch.Tensor:
    """``relu(x)`` in the forward pass; gradient 1 above zero and ``slope`` below it."""
    negative = (x < 0).to(x.dtype)
    # (x - x.detach()) is 0 in value and carries d/dx = 1
    return x.clamp(min=0) + slope * negative * (x - x.detach())


class LinearBoxCoder(Box2BoxTransformLinear):
    def __init__(self, normalize_by_size: bool = True, negative_grad_slope: float = 0.0):
        """
        Args:
            normalize_by_size: distances in units of the anchor size (the stride for FCOS points).
            negative_grad_slope: gradient slope of the decoding below zero during training; 0 is
                detectron2's (and the reference implementations') ReLU.
        """
        super().__init__(normalize_by_size=normalize_by_size)
        if negative_grad_slope < 0:
            raise ValueError(f"negative_grad_slope must be >= 0, got {negative_grad_slope}")
        self.negative_grad_slope = float(negative_grad_slope)

    def apply_deltas(self, deltas: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        if not (self.negative_grad_slope and deltas.requires_grad and torch.is_grad_enabled()):
            return super().apply_deltas(deltas, boxes)
        distances = relu_with_negative_grad(deltas, self.negative_grad_slope)
        boxes = boxes.to(distances.dtype)
        n, k4 = deltas.shape
        centers = 0.5 * (boxes[:, :2] + boxes[:, 2:])  # (N, 2)
        distances = distances.view(n, k4 // 4, 4)  # (N, k, 4) ltrb; N may be 0
        if self.normalize_by_size:
            sizes = boxes[:, 2:] - boxes[:, :2]
            distances = distances * sizes.repeat(1, 2)[:, None, :]
        top_left = centers[:, None, :] - distances[..., :2]
        bottom_right = centers[:, None, :] + distances[..., 2:]
        return torch.cat([top_left, bottom_right], dim=-1).view(n, k4)


def check_clamped_box_sides(
    positive_deltas: torch.Tensor, metric: str, model: str, can_recover: bool, remedy: str
) -> None:
    """Log ``metric``, the share of the positive samples' raw ltrb outputs at or below 0 (decoded
    as 0 by the ReLU), and warn when one side is clamped at every positive of the batch: unless
    the coder passes a gradient below zero (``can_recover``) that side is dead, and every box
    ends at its point on that side (seen on FCOS from scratch: boxes empty, every detection
    dropped, AP 0 without an error). ``remedy`` says what to set."""
    if len(positive_deltas) == 0:
        return
    clamped = (positive_deltas <= 0).float().mean(dim=0)  # per side l, t, r, b
    get_event_storage().put_scalar(metric, float(clamped.mean()))
    dead = [side for side, frac in zip("ltrb", clamped.tolist()) if frac == 1.0]
    if dead and len(positive_deltas) >= 8 and not can_recover:
        log_every_n_seconds(
            logging.WARNING,
            f"{model}: box side(s) {dead} are <= 0 at all {len(positive_deltas)} positives of "
            f"this batch; the ReLU decoding gives them no gradient (a dead side). {remedy}",
            n=60,
            name=__name__,
        )
