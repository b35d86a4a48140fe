"""Optimisers with full-model gradient-norm clipping.

detectron2's yacs ``SOLVER.CLIP_GRADIENTS`` clips per parameter and LazyConfig training has no
clipping at all. A one-to-one detector normalises its classification loss by its few positives
(about one per object), so early from-scratch training (the small CPU variant) sees much larger
gradients than the one-to-many baselines and can diverge; OneNet clips the norm of all gradients
together for the same reason. ``SGDFullModelGradClip`` / ``AdamWFullModelGradClip`` take the usual
arguments plus ``clip_norm``.
"""

import itertools

import torch

__all__ = ["full_model_gradient_clipping", "SGDFullModelGradClip", "AdamWFullModelGradClip"]


def full_model_gradient_clipping(optimizer_class):
    """A subclass of ``optimizer_class`` whose ``step`` first clips the L2 norm of all gradients
    together to ``clip_norm``."""

    class FullModelGradClip(optimizer_class):
        def __init__(self, params, *, clip_norm: float, **kwargs):
            super().__init__(params, **kwargs)
            if clip_norm <= 0:
                raise ValueError(f"clip_norm must be > 0, got {clip_norm}")
            self.clip_norm = clip_norm

        @torch.no_grad()
        def step(self, closure=None):
            params = itertools.chain(*[group["params"] for group in self.param_groups])
            torch.nn.utils.clip_grad_norm_(params, self.clip_norm)
            return super().step(closure)

    FullModelGradClip.__name__ = FullModelGradClip.__qualname__ = (
        optimizer_class.__name__ + "FullModelGradClip"
    )
    return FullModelGradClip


SGDFullModelGradClip = full_model_gradient_clipping(torch.optim.SGD)
AdamWFullModelGradClip = full_model_gradient_clipping(torch.optim.AdamW)
