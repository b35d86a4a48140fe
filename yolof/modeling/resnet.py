"""ResNet / ResNeXt stages for LazyConfigs, with detectron2's ``res5_dilation`` (DC5)."""

from detectron2.modeling.backbone import BottleneckBlock, ResNet

__all__ = ["make_resnet_stages"]

_BLOCKS_PER_STAGE = {50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3]}


def make_resnet_stages(
    depth=50,
    *,
    num_groups=1,
    width_per_group=64,
    stride_in_1x1=True,
    res5_dilation=1,
    norm="FrozenBN",
):
    """Bottleneck stages res2-res5 exactly as detectron2's yacs ``build_resnet_backbone`` makes them.

    ``ResNet.make_default_stages`` (what detectron2's LazyConfigs use) can express neither ResNeXt
    (``num_groups`` x ``width_per_group``, e.g. X-101-64x4d) nor ``MODEL.RESNETS.RES5_DILATION``:
    with ``res5_dilation=2`` res5 keeps stride 16 and dilates its 3x3 convs (the DC5 backbone of
    YOLOF's Table 9, following DETR).
    """
    if res5_dilation not in (1, 2):
        raise ValueError(f"res5_dilation must be 1 or 2, got {res5_dilation}")
    if depth not in _BLOCKS_PER_STAGE:
        raise ValueError(
            f"bottleneck ResNet depth must be one of {sorted(_BLOCKS_PER_STAGE)}, got {depth}"
        )
    in_channels, out_channels = 64, 256
    bottleneck_channels = num_groups * width_per_group
    stages = []
    for idx, num_blocks in enumerate(_BLOCKS_PER_STAGE[depth]):
        dilation = res5_dilation if idx == 3 else 1
        first_stride = 1 if idx == 0 or dilation == 2 else 2
        stages.append(
            ResNet.make_stage(
                block_class=BottleneckBlock,
                num_blocks=num_blocks,
                stride_per_block=[first_stride] + [1] * (num_blocks - 1),
                in_channels=in_channels,
                out_channels=out_channels,
                bottleneck_channels=bottleneck_channels,
                num_groups=num_groups,
                stride_in_1x1=stride_in_1x1,
                dilation=dilation,
                norm=norm,
            )
        )
        in_channels = out_channels
        out_channels *= 2
        bottleneck_channels *= 2
    return stages
