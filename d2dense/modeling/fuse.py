"""Fold batch norm into the preceding convolution, for inference.

At test time a batch norm is a fixed per-channel affine map ``y = gamma * (x - mean) / sqrt(var +
eps) + beta``, so it can be absorbed into the convolution before it: with ``s = gamma / sqrt(var +
eps)``, ``W' = W * s`` (per output channel) and ``b' = (b - mean) * s + beta``. The fused model
computes the same function with one op fewer per conv; on a CPU the separate norm op is a full
memory pass over the activation, which is why ``benchmarks/bench_yolof.py`` reports latency with
and without it. Group norm depends on the input's statistics and cannot be folded; it is left.

Only detectron2's ``Conv2d`` (the conv that carries its norm as ``.norm``, used by its ResNet and
by every d2dense head) is touched. ``FrozenBatchNorm2d`` is always folded; a ``BatchNorm2d``
(and its ``SyncBatchNorm`` / ``NaiveSyncBatchNorm`` subclasses) only in eval mode with running
statistics, because in training mode it normalises by the batch's statistics.

Fuse after loading a checkpoint: the fused model's state dict no longer has the norms' keys.
"""

import torch
from detectron2.layers import Conv2d, FrozenBatchNorm2d
from torch import nn

__all__ = ["fuse_conv_norm", "prepare_for_inference"]


def _norm_affine(norm: nn.Module):
    """(scale, shift) of ``norm`` as a fixed per-channel affine map, or None if it is not one."""
    if isinstance(norm, FrozenBatchNorm2d):
        weight, bias = norm.weight, norm.bias
    elif isinstance(norm, nn.modules.batchnorm._BatchNorm):
        if norm.training:
            raise ValueError(
                f"fuse_conv_norm: {type(norm).__name__} is in training mode (it normalises by the "
                "batch's statistics); call model.eval() before fusing"
            )
        if norm.running_mean is None:
            return None  # track_running_stats=False: batch statistics at test time too
        weight = norm.weight if norm.affine else torch.ones_like(norm.running_mean)
        bias = norm.bias if norm.affine else torch.zeros_like(norm.running_mean)
    else:
        return None
    scale = weight / torch.sqrt(norm.running_var + norm.eps)
    return scale, bias - norm.running_mean * scale


@torch.no_grad()
def fuse_conv_norm(model: nn.Module) -> int:
    """Fold every foldable batch norm of ``model``'s detectron2 ``Conv2d`` layers into the conv's
    weight and bias, in place (the conv's ``norm`` becomes None; its activation is kept). Returns
    the number of convs fused. Raises ValueError on a BatchNorm2d in training mode."""
    # Every norm is checked before any conv is changed, so a refusal leaves the model intact.
    foldable = []
    for module in model.modules():
        if isinstance(module, Conv2d) and module.norm is not None:
            affine = _norm_affine(module.norm)
            if affine is not None:
                foldable.append((module, affine))
    for module, (scale, shift) in foldable:
        dtype, requires_grad = module.weight.dtype, module.weight.requires_grad
        weight = module.weight * scale.reshape(-1, 1, 1, 1)
        bias = shift if module.bias is None else module.bias * scale + shift
        # the norm's buffers may be fp32 under fp16 weights: keep the conv's dtype
        module.weight = nn.Parameter(weight.to(dtype), requires_grad=requires_grad)
        module.bias = nn.Parameter(bias.to(dtype), requires_grad=requires_grad)
        module.norm = None
    return len(foldable)


def prepare_for_inference(
    model: nn.Module, *, fuse_norm: bool = False, channels_last: bool = False
) -> nn.Module:
    """Optional CPU/GPU inference speed-ups that keep the model's outputs up to float rounding:
    fold batch norm into the convs (``fuse_norm``) and store weights channels-last
    (``channels_last``: convolutions then run in NHWC, which oneDNN and cuDNN prefer). Puts
    ``model`` in eval mode; returns it. Folding changes the parameter count (each folded norm's
    two vectors become one conv bias)."""
    model.eval()
    if fuse_norm:
        fuse_conv_norm(model)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    return model
