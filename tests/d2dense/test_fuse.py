"""fuse_conv_norm: folding batch norm into the conv must not change what the network computes."""

import copy

import pytest
import torch
import torch.nn.functional as F
from detectron2.layers import Conv2d, FrozenBatchNorm2d
from torch import nn

from d2dense.modeling.fuse import fuse_conv_norm, prepare_for_inference
from helpers import build_model


def _randomise_norm_stats(model, generator, spread=1.0):
    """Non-trivial running statistics and affine parameters, so an identity fold would fail.
    ``spread`` < 1 keeps a deep network's activations in a range where float rounding stays small
    (with spread 1 a random R18 reaches 1e5 and its GN head amplifies rounding differences)."""
    for m in model.modules():
        if isinstance(m, (FrozenBatchNorm2d, nn.modules.batchnorm._BatchNorm)):
            c = m.running_mean.numel()
            with torch.no_grad():
                m.running_mean.copy_(spread * torch.randn(c, generator=generator))
                m.running_var.copy_(torch.exp(spread * torch.randn(c, generator=generator)))
                if m.weight is not None:
                    m.weight.copy_(1 + spread * torch.randn(c, generator=generator))
                    m.bias.copy_(spread * torch.randn(c, generator=generator))


@pytest.mark.parametrize(
    "norm",
    [
        lambda c: FrozenBatchNorm2d(c),
        lambda c: nn.BatchNorm2d(c),
        lambda c: nn.BatchNorm2d(c, affine=False),
    ],
    ids=["frozen_bn", "bn", "bn_no_affine"],
)
@pytest.mark.parametrize("bias", [False, True])
def test_fused_conv_matches_conv_then_norm(norm, bias):
    g = torch.Generator().manual_seed(0)
    conv = Conv2d(3, 5, 3, padding=1, bias=bias, norm=norm(5), activation=F.relu).eval()
    _randomise_norm_stats(conv, g)
    x = torch.randn(2, 3, 7, 9, generator=g)
    expected = conv(x)
    assert fuse_conv_norm(conv) == 1
    assert conv.norm is None and conv.activation is F.relu
    torch.testing.assert_close(conv(x), expected, rtol=1e-5, atol=1e-5)


def test_hand_computed_fold():
    # 1x1 conv, weight 2, no bias; BN mean 1, var 3, eps 1, gamma 4, beta 5:
    # y = 4 * (2x - 1) / sqrt(4) + 5 = 4x + 3, so W' = 4 and b' = 3.
    conv = Conv2d(1, 1, 1, bias=False, norm=nn.BatchNorm2d(1, eps=1.0)).eval()
    with torch.no_grad():
        conv.weight.fill_(2.0)
        conv.norm.running_mean.fill_(1.0)
        conv.norm.running_var.fill_(3.0)
        conv.norm.weight.fill_(4.0)
        conv.norm.bias.fill_(5.0)
    fuse_conv_norm(conv)
    assert conv.weight.item() == pytest.approx(4.0)
    assert conv.bias.item() == pytest.approx(3.0)


def test_training_mode_batch_norm_is_refused_and_nothing_is_changed():
    frozen = Conv2d(3, 4, 1, norm=FrozenBatchNorm2d(4))
    training = Conv2d(4, 4, 1, norm=nn.BatchNorm2d(4)).train()
    with pytest.raises(ValueError, match="training mode"):
        fuse_conv_norm(nn.Sequential(frozen, training))
    assert isinstance(frozen.norm, FrozenBatchNorm2d)


def test_group_norm_and_batch_statistics_bn_are_left_alone():
    gn = Conv2d(4, 4, 3, padding=1, norm=nn.GroupNorm(2, 4)).eval()
    stats_free = Conv2d(4, 4, 1, norm=nn.BatchNorm2d(4, track_running_stats=False)).eval()
    assert fuse_conv_norm(nn.Sequential(gn, stats_free)) == 0
    assert isinstance(gn.norm, nn.GroupNorm) and isinstance(stats_free.norm, nn.BatchNorm2d)


@pytest.mark.parametrize(
    "config", ["YOLOF/yolof_R_50_C5_1x.py", "Baselines/retinanet_R_50_FPN_1x.py"]
)
def test_fused_detector_head_outputs_unchanged(config):
    """The whole network (backbone BN, YOLOF's encoder/decoder BN) through the head: same outputs."""
    model = build_model(config, overrides=["model.num_classes=3"]).eval()
    _randomise_norm_stats(model, torch.Generator().manual_seed(1), spread=0.5)
    fused = copy.deepcopy(model)
    assert fuse_conv_norm(fused) > 0
    assert not any(
        isinstance(m, (FrozenBatchNorm2d, nn.modules.batchnorm._BatchNorm)) for m in fused.modules()
    )

    def head_outputs(m, image):
        captured = []
        # copies: detectron2's RetinaNet post-processing applies sigmoid_ to views of the head
        # outputs, which are the outputs themselves (no copy) in channels-last layout
        handle = m.head.register_forward_hook(
            lambda _m, _i, out: captured.append([[t.clone() for t in level] for level in out])
        )
        with torch.no_grad():
            m([{"image": image}])
        handle.remove()
        return captured[0]

    image = torch.randint(0, 255, (3, 97, 131), generator=torch.Generator().manual_seed(2)).float()
    expected = head_outputs(model, image)
    fused_outputs = head_outputs(fused, image)
    channels_last = head_outputs(prepare_for_inference(fused, channels_last=True), image)
    for outputs in (fused_outputs, channels_last):
        for a, b in zip(expected, outputs):
            for ta, tb in zip(a, b):
                torch.testing.assert_close(tb, ta, rtol=1e-3, atol=1e-3)


def test_prepare_for_inference_evals_fuses_and_converts():
    model = nn.Sequential(Conv2d(3, 8, 3, padding=1, norm=nn.BatchNorm2d(8))).train()
    prepare_for_inference(model, fuse_norm=True, channels_last=True)
    assert not model.training and model[0].norm is None
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last)
