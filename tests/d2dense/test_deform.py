"""The torchvision deformable bottleneck: zero offsets = plain conv; gradients reach the offsets."""

import torch

from detectron2.modeling.backbone.resnet import ResNet

from d2dense.modeling import DeformBottleneckBlockTV, make_resnet_stages


def test_zero_offset_deform_block_equals_plain_bottleneck():
    torch.manual_seed(0)
    from detectron2.modeling.backbone.resnet import BottleneckBlock

    for modulated in (False, True):
        deform = DeformBottleneckBlockTV(
            16,
            32,
            bottleneck_channels=8,
            stride=2,
            num_groups=2,
            norm="BN",
            deform_modulated=modulated,
        ).eval()
        plain = BottleneckBlock(
            16, 32, bottleneck_channels=8, stride=2, num_groups=2, norm="BN"
        ).eval()
        # same weights under the same names (conv2.weight / conv2.norm.*): checkpoints interchange
        missing = plain.load_state_dict(deform.state_dict(), strict=False)
        assert not missing.missing_keys
        assert set(missing.unexpected_keys) == {"conv2_offset.weight", "conv2_offset.bias"}
        x = torch.randn(2, 16, 11, 13)
        want = plain(x)
        got = deform(x)
        if modulated:  # zero-initialised mask logits -> mask 0.5 on every tap, not identity
            assert got.shape == want.shape
        else:
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_offsets_receive_gradients():
    block = DeformBottleneckBlockTV(8, 8, bottleneck_channels=4, norm="BN", deform_modulated=True)
    torch.nn.init.normal_(block.conv2_offset.weight, std=0.1)
    block(torch.randn(1, 8, 9, 9)).sum().backward()
    assert block.conv2_offset.weight.grad.abs().sum() > 0


def test_resnext_dcn_stages_shapes():
    stages = make_resnet_stages(
        depth=50,
        num_groups=32,
        width_per_group=4,
        deform_on_per_stage=[False, True, False, True],
        norm="BN",
    )
    assert type(stages[1][0]).__name__ == "DeformBottleneckBlockTV"
    assert type(stages[2][0]).__name__ == "BottleneckBlock"
    assert stages[0][0].conv1.out_channels == 128 and stages[3][0].conv3.out_channels == 2048
    from detectron2.modeling.backbone import BasicStem

    net = ResNet(BasicStem(norm="BN"), stages, out_features=["res5"])
    assert net(torch.randn(1, 3, 64, 64))["res5"].shape == (1, 2048, 2, 2)
