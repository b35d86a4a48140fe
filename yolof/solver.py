"""Optimiser pieces of YOLOF's recipe (Sec. 5 "Implementation Details")."""

from fvcore.common.param_scheduler import MultiStepParamScheduler

from detectron2.solver import WarmupParamScheduler

__all__ = ["PrefixLRFactor", "step_lr_multiplier"]


class PrefixLRFactor:
    """``lr_factor_func`` for detectron2's ``get_default_optimizer_params``: parameters whose name
    starts with ``prefix`` get ``factor`` x the base LR. YOLOF trains the ImageNet backbone at 1/3
    of the base LR, following DETR (``prefix="backbone.net."``: the ResNet inside the encoder)."""

    def __init__(self, prefix: str, factor: float):
        self.prefix = prefix
        self.factor = factor

    def __call__(self, param_name: str) -> float:
        return self.factor if param_name.startswith(self.prefix) else 1.0


def step_lr_multiplier(max_iter: int, steps, warmup_iters: int, warmup_factor: float):
    """Linear warm-up over ``warmup_iters`` from ``warmup_factor``, then x0.1 at each of ``steps``
    (YOLOF 1x: 22.5k iterations, steps 15k / 20k, 1500 warm-up iterations)."""
    return WarmupParamScheduler(
        MultiStepParamScheduler(
            values=[0.1**i for i in range(len(steps) + 1)],
            milestones=list(steps),
            num_updates=max_iter,
        ),
        warmup_length=warmup_iters / max_iter,
        warmup_method="linear",
        warmup_factor=warmup_factor,
    )
