"""Converters from official DeFCN / YOLOF / OneNet checkpoints (d2dense/checkpoint_conversion.py).

Each test synthesises a state dict with the OFFICIAL names and shapes, generated from the official
module structure (the generators below; where each name was read is in the converter's docstring),
filled with distinct random values. Every generated entry also states, independently of the
converter's rule tables, which parameter of OUR model it must land in. After conversion the state
dict loads into our paper-scale R50 model with ``strict=True``, every official tensor is found by
value at its expected place, and every parameter / buffer of our model is accounted for.
"""

import math
import os
import pickle
import sys
from collections import OrderedDict
from typing import List, NamedTuple, Optional

import pytest
import torch

from detectron2.checkpoint import DetectionCheckpointer
from detectron2.modeling.anchor_generator import DefaultAnchorGenerator

from d2dense.checkpoint_conversion import (
    IMAGENET_STD_RGB,
    MSRA_MEAN_BGR,
    SOURCES,
    CheckpointConversionError,
    convert_state_dict,
    load_official_checkpoint,
    save_converted,
)
from helpers import REPO_ROOT, build_model

sys.path.insert(0, os.path.join(REPO_ROOT, "tools"))
import convert_checkpoint as convert_tool  # noqa: E402

DEFCN_R50 = "DeFCN/poto_3dmf_aux_R_50_FPN_3x.py"
DEFCN_R101 = "DeFCN/poto_3dmf_aux_R_101_FPN_3x.py"
YOLOF_C5 = "YOLOF/yolof_R_50_C5_1x.py"
YOLOF_DC5 = "YOLOF/yolof_R_50_DC5_1x.py"
ONENET_CENTERNET = "OneNet/centernet_o2o_cls_R_50_DCN_270k.py"
ONENET_FCOS = "OneNet/fcos_o2o_cls_R_50_FPN_3x.py"
ONENET_RETINANET = "OneNet/retinanet_o2o_cls_R_50_FPN_3x.py"
# OneNet trains torchvision-layout ResNets (STRIDE_IN_1X1 False) and its FPN takes P6 from C5.
TORCHVISION_RESNET = ["model.backbone.bottom_up.stages.stride_in_1x1=False"]
P6_FROM_C5 = [
    "model.backbone.top_block.in_feature=res5",
    "model.backbone.top_block.in_channels=2048",
]


# ================================================================================================
# Official naming, generated from the structure: (official key, shape, our key or None)
# ================================================================================================
class Entry(NamedTuple):
    official: str
    shape: tuple
    ours: Optional[str]  # None: dropped / folded (checked separately)


def _norm(entries, official, ours, c, kind):
    """FrozenBN: 4 buffers; BN (cvpods / detectron2 BatchNorm2d): + num_batches_tracked; GN: 2."""
    names = {
        "FrozenBN": ["weight", "bias", "running_mean", "running_var"],
        "BN": ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"],
        "GN": ["weight", "bias"],
    }[kind]
    for n in names:
        entries.append(
            Entry(f"{official}.{n}", () if n == "num_batches_tracked" else (c,), f"{ours}.{n}")
        )


def resnet_entries(official, ours, depth=50, norm="FrozenBN") -> List[Entry]:
    """cvpods' and detectron2's ResNet share the names: stem.conv1(.norm); res<s>.<b>.{conv1,
    conv2,conv3,shortcut}(.norm), bottleneck blocks, 64-256 channels in res2, doubling."""
    entries = []

    def conv_norm(name, cout, cin, k):
        entries.append(
            Entry(f"{official}.{name}.weight", (cout, cin, k, k), f"{ours}.{name}.weight")
        )
        _norm(entries, f"{official}.{name}.norm", f"{ours}.{name}.norm", cout, norm)

    conv_norm("stem.conv1", 64, 3, 7)
    cin, mid, cout = 64, 64, 256
    for stage, blocks in enumerate({50: [3, 4, 6, 3], 101: [3, 4, 23, 3]}[depth], start=2):
        for b in range(blocks):
            if b == 0:
                conv_norm(f"res{stage}.0.shortcut", cout, cin, 1)
            conv_norm(f"res{stage}.{b}.conv1", mid, cin if b == 0 else cout, 1)
            conv_norm(f"res{stage}.{b}.conv2", mid, mid, 3)
            conv_norm(f"res{stage}.{b}.conv3", cout, mid, 1)
        cin, mid, cout = cout, mid * 2, cout * 2
    return entries


def fpn_entries(p6_in) -> List[Entry]:
    """FPN on res3-res5 (fpn_lateral<k>, fpn_output<k>) + LastLevelP6P7 (top_block.p6/p7)."""
    entries = []
    for stage, c in zip((3, 4, 5), (512, 1024, 2048)):
        for name, shape in (
            (f"fpn_lateral{stage}", (256, c, 1, 1)),
            (f"fpn_output{stage}", (256, 256, 3, 3)),
        ):
            entries.append(Entry(f"backbone.{name}.weight", shape, f"backbone.{name}.weight"))
            entries.append(Entry(f"backbone.{name}.bias", (256,), f"backbone.{name}.bias"))
    for name, cin in (("p6", p6_in), ("p7", 256)):
        entries.append(
            Entry(
                f"backbone.top_block.{name}.weight",
                (256, cin, 3, 3),
                f"backbone.top_block.{name}.weight",
            )
        )
        entries.append(
            Entry(f"backbone.top_block.{name}.bias", (256,), f"backbone.top_block.{name}.bias")
        )
    return entries


def conv(entries, official, ours, cout, cin, k, bias=True):
    entries.append(Entry(f"{official}.weight", (cout, cin, k, k), ours and f"{ours}.weight"))
    if bias:
        entries.append(Entry(f"{official}.bias", (cout,), ours and f"{ours}.bias"))


def defcn_entries(depth=50, num_classes=80) -> List[Entry]:
    """DeFCN (cvpods) POTO + 3DMF + Aux: retinanet_resnet_fpn_p5 backbone (P6 from P5); FCOSHead
    with Sequential([Conv2d, GN(32), ReLU] x 4) towers cls_subnet / bbox_subnet, cls_score,
    bbox_pred, max3d (MaxFiltering: conv + norm), filter, scales[l].scale (shape [1])."""
    e = resnet_entries("backbone.bottom_up", "backbone.bottom_up", depth) + fpn_entries(256)
    for tower in ("cls_subnet", "bbox_subnet"):
        for i in range(4):
            conv(e, f"head.{tower}.{3 * i}", f"head.{tower}.{3 * i}", 256, 256, 3)
            _norm(e, f"head.{tower}.{3 * i + 1}", f"head.{tower}.{3 * i + 1}", 256, "GN")
    conv(e, "head.cls_score", "head.cls_score", num_classes, 256, 3)
    conv(e, "head.bbox_pred", "head.bbox_pred", 4, 256, 3)
    conv(e, "head.max3d.conv", "head.max_filter.conv", 256, 256, 3)
    _norm(e, "head.max3d.norm", "head.max_filter.norm", 256, "GN")
    conv(e, "head.filter", "head.filter_pred", 1, 256, 3)
    e += [Entry(f"head.scales.{level}.scale", (1,), None) for level in range(5)]
    return e


def yolof_entries(num_anchors=5, cvpods=True) -> List[Entry]:
    """YOLOF: ResNet ``backbone`` (C5); ``encoder`` = DilatedEncoder (lateral_conv, lateral_norm,
    fpn_conv, fpn_norm, dilated_encoder_blocks[i].conv{1,2,3} = Sequential(Conv2d, BN, ReLU));
    ``decoder`` = Sequential([Conv2d, BN, ReLU] x n) cls_subnet (2) / bbox_subnet (4), cls_score,
    bbox_pred, object_pred; persistent pixel_mean / pixel_std buffers; cvpods also saves
    anchor_generator.cell_anchors.0 (persistent BufferList)."""
    e = resnet_entries("backbone", "backbone.net")
    conv(e, "encoder.lateral_conv", "backbone.lateral_conv", 512, 2048, 1)
    _norm(e, "encoder.lateral_norm", "backbone.lateral_conv.norm", 512, "BN")
    conv(e, "encoder.fpn_conv", "backbone.fpn_conv", 512, 512, 3)
    _norm(e, "encoder.fpn_norm", "backbone.fpn_conv.norm", 512, "BN")
    for b in range(4):
        for k, (cout, cin, ks) in enumerate(((128, 512, 1), (128, 128, 3), (512, 128, 1)), 1):
            official, ours = (
                f"encoder.dilated_encoder_blocks.{b}.conv{k}",
                f"backbone.dilated_blocks.{b}.conv{k}",
            )
            conv(e, f"{official}.0", ours, cout, cin, ks)
            _norm(e, f"{official}.1", f"{ours}.norm", cout, "BN")
    for tower, n in (("cls_subnet", 2), ("bbox_subnet", 4)):
        for j in range(n):
            conv(e, f"decoder.{tower}.{3 * j}", f"head.{tower}.{j}", 512, 512, 3)
            _norm(e, f"decoder.{tower}.{3 * j + 1}", f"head.{tower}.{j}.norm", 512, "BN")
    conv(e, "decoder.cls_score", "head.cls_score", num_anchors * 80, 512, 3)
    conv(e, "decoder.bbox_pred", "head.bbox_pred", num_anchors * 4, 512, 3)
    conv(e, "decoder.object_pred", "head.object_pred", num_anchors, 512, 3)
    e += [Entry("pixel_mean", (3, 1, 1), None), Entry("pixel_std", (3, 1, 1), None)]
    if cvpods:
        e.append(Entry("anchor_generator.cell_anchors.0", (num_anchors, 4), None))
    return e


def onenet_centernet_entries(dcn=True) -> List[Entry]:
    """OneNet CenterNet head (R50, BN): plain ResNet ``backbone``; ``head.deconv`` =
    CenternetDeconv: deconv{1,2,3} (DCNDeconvLayer: dcn_offset, dcn, dcn_bn, up_sample, up_bn; or
    CNDeconvLayer: conv (biased), bn, up_sample, up_bn), lateral_conv{1,2,3} (of res4/res3/res2),
    output_conv; ``head.feat1``, ``head.cls_score``, ``head.ltrb_pred``."""
    e = resnet_entries("backbone", "backbone.bottom_up", norm="BN")
    channels = [2048, 256, 128, 64]
    for i in (1, 2, 3):
        cin, cout = channels[i - 1], channels[i]
        official, ours = f"head.deconv.deconv{i}", f"backbone.up_blocks.{i - 1}"
        if dcn:
            conv(e, f"{official}.dcn_offset", f"{ours}.conv.offset_mask", 27, cin, 3)
            conv(e, f"{official}.dcn", f"{ours}.conv", cout, cin, 3, bias=False)
            _norm(e, f"{official}.dcn_bn", f"{ours}.norm1", cout, "BN")
        else:
            conv(e, f"{official}.conv", None, cout, cin, 3, bias=False)
            e[-1] = e[-1]._replace(ours=f"{ours}.conv.weight")
            e.append(Entry(f"{official}.conv.bias", (cout,), None))  # folded into norm1
            _norm(e, f"{official}.bn", f"{ours}.norm1", cout, "BN")
        e.append(Entry(f"{official}.up_sample.weight", (cout, cout, 4, 4), f"{ours}.up.weight"))
        _norm(e, f"{official}.up_bn", f"{ours}.norm2", cout, "BN")
        lateral_in = {1: 1024, 2: 512, 3: 256}[i]
        conv(e, f"head.deconv.lateral_conv{i}", f"backbone.laterals.{i - 1}", cout, lateral_in, 1)
    conv(e, "head.deconv.output_conv", "backbone.output_conv", 64, 64, 3)
    conv(e, "head.feat1", "head.shared.0", 64, 64, 3)
    conv(e, "head.cls_score", "head.cls_score", 80, 64, 3)
    conv(e, "head.ltrb_pred", "head.bbox_pred", 4, 64, 3)
    return e


def onenet_fpn_entries(head) -> List[Entry]:
    """OneNet FCOS / RetinaNet heads (R50, FrozenBN): build_retinanet_resnet_fpn_backbone (P6 from
    C5); towers cls_conv_module / reg_conv_module = ModuleList of Conv2d(bias=False) [+ GN] + ReLU;
    FCOS: cls_score, ltrb_pred, scales[l].scale; RetinaNet: cls_score (9*K), bbox_pred (9*4)."""
    e = resnet_entries("backbone.bottom_up", "backbone.bottom_up") + fpn_entries(2048)
    period = 3 if head == "FCOS" else 2
    for official, ours in (("cls_conv_module", "cls_subnet"), ("reg_conv_module", "bbox_subnet")):
        for j in range(4):
            i = period * j
            e.append(
                Entry(f"head.{official}.{i}.weight", (256, 256, 3, 3), f"head.{ours}.{i}.weight")
            )
            if head == "FCOS":
                _norm(e, f"head.{official}.{i + 1}", f"head.{ours}.{i + 1}", 256, "GN")
    if head == "FCOS":
        conv(e, "head.cls_score", "head.cls_score", 80, 256, 3)
        conv(e, "head.ltrb_pred", "head.bbox_pred", 4, 256, 3)
        e += [Entry(f"head.scales.{level}.scale", (1,), None) for level in range(5)]
    else:
        conv(e, "head.cls_score", "head.cls_score", 9 * 80, 256, 3)
        conv(e, "head.bbox_pred", "head.bbox_pred", 9 * 4, 256, 3)
        e += [Entry(f"head.anchor_generator.cell_anchors.{lv}", (9, 4), None) for lv in range(5)]
    return e


def materialise(entries, seed=0):
    """Distinct random values (BN step counters: distinct integers)."""
    g = torch.Generator().manual_seed(seed)
    sd = OrderedDict()
    for i, e in enumerate(entries):
        assert e.official not in sd, e.official
        if e.official.endswith("num_batches_tracked"):
            sd[e.official] = torch.tensor(1000 + i, dtype=torch.int64)
        else:
            sd[e.official] = torch.randn(e.shape, generator=g)
    return sd


def assert_landed(model, entries, official, transformed=()):
    """Every official tensor is at its expected key (by value), and every key of our model is
    either such a target or one of the declared ``transformed`` keys (checked by the caller)."""
    ours = model.state_dict()
    expected = {}
    for e in entries:
        if e.ours is None or e.ours in transformed:
            continue
        assert e.ours in ours, f"{e.official} should land in {e.ours}, which our model lacks"
        assert torch.equal(
            ours[e.ours], official[e.official].to(ours[e.ours].dtype)
        ), f"{e.official} did not land in {e.ours}"
        expected[e.ours] = e.official
    unaccounted = set(ours) - set(expected) - set(transformed)
    assert not unaccounted, sorted(unaccounted)[:20]


def convert_and_load(model, official, source, **kwargs):
    converted, report = convert_state_dict(official, source, target_model=model, **kwargs)
    result = model.load_state_dict(converted, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    return converted, report


def cell_anchors(sizes, aspect_ratios=(1.0,)):
    """The cell anchors the official anchor generators store (same formula as detectron2's)."""
    gen = DefaultAnchorGenerator(
        sizes=sizes,
        aspect_ratios=[list(aspect_ratios)],
        strides=[8 * 2**i for i in range(len(sizes))],
        offset=0.0,
    )
    return [a.clone() for a in gen.cell_anchors]


# ================================================================================================
# Models (one per config, module scope)
# ================================================================================================
@pytest.fixture(scope="module")
def defcn_model():
    return build_model(DEFCN_R50, scale="paper").eval()


@pytest.fixture(scope="module")
def yolof_c5_model():
    return build_model(YOLOF_C5, scale="paper").eval()


@pytest.fixture(scope="module")
def yolof_dc5_model():
    return build_model(YOLOF_DC5, scale="paper").eval()


@pytest.fixture(scope="module")
def onenet_centernet_model():
    return build_model(ONENET_CENTERNET, scale="paper", overrides=TORCHVISION_RESNET).eval()


@pytest.fixture(scope="module")
def onenet_fcos_model():
    return build_model(ONENET_FCOS, scale="paper", overrides=TORCHVISION_RESNET + P6_FROM_C5).eval()


@pytest.fixture(scope="module")
def onenet_retinanet_model():
    return build_model(ONENET_RETINANET, scale="paper", overrides=TORCHVISION_RESNET).eval()


def _defcn_official(scales=(1.25,) * 5, depth=50):
    entries = defcn_entries(depth)
    official = materialise(entries)
    for level, s in enumerate(scales):
        official[f"head.scales.{level}.scale"] = torch.tensor([s])
    return entries, official


# ================================================================================================
# DeFCN
# ================================================================================================
def test_defcn_every_tensor_lands(defcn_model):
    entries, official = _defcn_official()
    _, report = convert_and_load(defcn_model, official, "defcn_cvpods")
    # equal per-level scales fold exactly into the shared box conv (relu(s*x) = relu(s*W x + s*b))
    transformed = {"head.bbox_pred.weight", "head.bbox_pred.bias"}
    assert_landed(defcn_model, entries, official, transformed)
    head = defcn_model.head
    torch.testing.assert_close(head.bbox_pred.weight, official["head.bbox_pred.weight"] * 1.25)
    torch.testing.assert_close(head.bbox_pred.bias, official["head.bbox_pred.bias"] * 1.25)
    # spot checks through the modules (not state-dict names)
    assert torch.equal(head.max_filter.norm.weight, official["head.max3d.norm.weight"])
    assert torch.equal(head.filter_pred.bias, official["head.filter.bias"])
    assert torch.equal(head.cls_subnet[9].weight, official["head.cls_subnet.9.weight"])
    assert torch.equal(head.bbox_subnet[10].bias, official["head.bbox_subnet.10.bias"])
    res4 = defcn_model.backbone.bottom_up.res4
    assert torch.equal(
        res4[5].conv2.norm.running_var, official["backbone.bottom_up.res4.5.conv2.norm.running_var"]
    )
    assert torch.equal(
        defcn_model.backbone.top_block.p6.weight, official["backbone.top_block.p6.weight"]
    )
    # the MSRA stem (BGR, std 1) is what our config expects: copied unchanged
    assert not any("stem" in f for f in report.folded)
    assert report.validated and not report.problems
    assert ("head.scales.0.scale", "folded into head.bbox_pred") in report.dropped


def test_defcn_r101_same_rules():
    model = build_model(DEFCN_R101, scale="paper").eval()
    entries, official = _defcn_official(depth=101)
    convert_and_load(model, official, "defcn_cvpods")
    assert_landed(model, entries, official, {"head.bbox_pred.weight", "head.bbox_pred.bias"})


def test_defcn_different_level_scales_need_allow_lossy(defcn_model):
    _, official = _defcn_official(scales=(0.9, 1.0, 1.1, 1.2, 1.3))
    with pytest.raises(ValueError, match=r"head\.scales") as info:
        convert_state_dict(official, "defcn_cvpods", target_model=defcn_model)
    assert "allow_lossy" in str(info.value)
    converted, report = convert_state_dict(
        official, "defcn_cvpods", target_model=defcn_model, allow_lossy=True
    )
    mean = math.exp(sum(math.log(s) for s in (0.9, 1.0, 1.1, 1.2, 1.3)) / 5)
    torch.testing.assert_close(
        converted["head.bbox_pred.weight"], official["head.bbox_pred.weight"] * mean
    )
    assert any(f.startswith("LOSSY") for f in report.folded)


def test_unknown_official_key_is_named(defcn_model):
    _, official = _defcn_official()
    official["head.centerness.weight"] = torch.randn(1, 256, 3, 3)
    with pytest.raises(ValueError, match=r"head\.centerness\.weight") as info:
        convert_state_dict(official, "defcn_cvpods", target_model=defcn_model)
    assert isinstance(info.value, CheckpointConversionError)  # carries the full report
    assert "head.centerness.weight" in info.value.report.summary()
    # also without a model: an official key no rule maps is always an error
    with pytest.raises(ValueError, match=r"head\.centerness\.weight"):
        convert_state_dict(official, "defcn_cvpods")


def test_shape_mismatch_is_named(defcn_model):
    _, official = _defcn_official()
    official["head.cls_score.weight"] = torch.randn(1, 256, 3, 3)  # a CrowdHuman (K=1) model
    official["head.cls_score.bias"] = torch.randn(1)
    with pytest.raises(
        ValueError, match=r"head\.cls_score\.weight.*\(1, 256, 3, 3\).*\(80, 256, 3, 3\)"
    ):
        convert_state_dict(official, "defcn_cvpods", target_model=defcn_model)


def test_unfilled_target_key_is_named(defcn_model):
    _, official = _defcn_official()
    del official["head.max3d.conv.weight"]  # e.g. a checkpoint of the model without 3DMF conv
    with pytest.raises(ValueError, match=r"does not fill.*head\.max_filter\.conv\.weight"):
        convert_state_dict(official, "defcn_cvpods", target_model=defcn_model)


def test_file_formats_and_detection_checkpointer(defcn_model, tmp_path):
    entries, official = _defcn_official()
    # cvpods / detectron2 pickle of numpy arrays, wrapped in {"model": ...}
    pkl = tmp_path / "official.pkl"
    with open(pkl, "wb") as f:
        pickle.dump({"model": {k: v.numpy() for k, v in official.items()}, "__author__": "x"}, f)
    # torch file saved from DistributedDataParallel with an optimizer state beside the model
    pth = tmp_path / "official.pth"
    torch.save({"model": {"module." + k: v for k, v in official.items()}, "iteration": 3}, pth)
    bare = tmp_path / "bare.pth"
    torch.save(official, bare)
    for path in (pkl, pth, bare):
        loaded = load_official_checkpoint(str(path))
        assert list(loaded) == list(official)
        assert all(torch.equal(torch.as_tensor(loaded[k]), official[k]) for k in official)
    # a pickle that would run code is refused unless trusted
    evil = tmp_path / "evil.pkl"
    with open(evil, "wb") as f:
        pickle.dump({"model": {"x": os.getcwd}}, f)  # a function reference, not an array
    with pytest.raises(pickle.UnpicklingError, match="not allowed"):
        load_official_checkpoint(str(evil))

    converted, _ = convert_state_dict(
        load_official_checkpoint(str(pkl)), "defcn_cvpods", target_model=defcn_model
    )
    out = tmp_path / "converted.pth"
    save_converted(converted, str(out), "defcn_cvpods")
    saved = torch.load(out, weights_only=True)
    assert saved["__author__"] == "d2dense converter (defcn_cvpods)"
    assert saved["matching_heuristics"] is False
    with torch.no_grad():
        for p in defcn_model.parameters():
            p.zero_()
    DetectionCheckpointer(defcn_model).load(str(out))  # what train.init_checkpoint does
    assert_landed(defcn_model, entries, official, {"head.bbox_pred.weight", "head.bbox_pred.bias"})


def test_cli(tmp_path, capsys):
    _, official = _defcn_official()
    src = tmp_path / "official.pth"
    torch.save({"model": official}, src)
    out = tmp_path / "out.pth"
    config = os.path.join(REPO_ROOT, "configs", DEFCN_R50)
    assert (
        convert_tool.main(["--source", "defcn_cvpods", "--config-file", config, str(src), str(out)])
        == 0
    )
    assert "validated against the model" in capsys.readouterr().out and out.exists()
    # a problem: non-zero exit, the problem printed, nothing written
    official["head.extra.weight"] = torch.zeros(1)
    torch.save({"model": official}, src)
    bad = tmp_path / "bad.pth"
    assert convert_tool.main(["--source", "defcn_cvpods", "--no-validate", str(src), str(bad)]) == 1
    assert "head.extra.weight" in capsys.readouterr().out and not bad.exists()


# ================================================================================================
# YOLOF
# ================================================================================================
def _yolof_official(num_anchors, cvpods):
    entries = yolof_entries(num_anchors, cvpods)
    official = materialise(entries, seed=1)
    official["pixel_mean"] = torch.tensor(MSRA_MEAN_BGR).view(3, 1, 1)
    official["pixel_std"] = torch.ones(3, 1, 1)
    if cvpods:
        sizes = [[32, 64, 128, 256, 512]] if num_anchors == 5 else [[16, 32, 64, 128, 256, 512]]
        official["anchor_generator.cell_anchors.0"] = cell_anchors(sizes)[0]
    return entries, official


def test_yolof_cvpods_c5_every_tensor_lands(yolof_c5_model):
    entries, official = _yolof_official(5, cvpods=True)
    _, report = convert_and_load(yolof_c5_model, official, "yolof_cvpods")
    assert_landed(yolof_c5_model, entries, official)
    m = yolof_c5_model
    assert torch.equal(
        m.backbone.lateral_conv.norm.running_mean, official["encoder.lateral_norm.running_mean"]
    )
    assert torch.equal(m.backbone.fpn_conv.bias, official["encoder.fpn_conv.bias"])
    assert torch.equal(
        m.backbone.dilated_blocks[2].conv2.norm.weight,
        official["encoder.dilated_encoder_blocks.2.conv2.1.weight"],
    )
    assert torch.equal(
        m.backbone.dilated_blocks[3].conv3.weight,
        official["encoder.dilated_encoder_blocks.3.conv3.0.weight"],
    )
    assert torch.equal(m.head.cls_subnet[1].weight, official["decoder.cls_subnet.3.weight"])
    assert torch.equal(
        m.head.bbox_subnet[3].norm.num_batches_tracked,
        official["decoder.bbox_subnet.10.num_batches_tracked"],
    )
    assert torch.equal(m.head.object_pred.weight, official["decoder.object_pred.weight"])
    assert torch.equal(
        m.backbone.net.res5[2].conv3.norm.bias, official["backbone.res5.2.conv3.norm.bias"]
    )
    dropped = {k for k, _ in report.dropped}
    assert dropped == {"pixel_mean", "pixel_std", "anchor_generator.cell_anchors.0"}


def test_yolof_d2_dc5_every_tensor_lands(yolof_dc5_model):
    entries, official = _yolof_official(6, cvpods=False)  # the port saves no cell anchors
    convert_and_load(yolof_dc5_model, official, "yolof_d2")
    assert_landed(yolof_dc5_model, entries, official)


def test_yolof_c5_weights_into_dc5_config_fail(yolof_dc5_model):
    _, official = _yolof_official(5, cvpods=True)
    with pytest.raises(ValueError) as info:
        convert_state_dict(official, "yolof_cvpods", target_model=yolof_dc5_model)
    msg = str(info.value)
    assert "anchor_generator.cell_anchors.0" in msg  # 5 official anchors vs our 6
    assert "head.bbox_pred.weight" in msg and "DC5 models 6" in msg


def test_yolof_wrong_pixel_mean_fails(yolof_c5_model):
    _, official = _yolof_official(5, cvpods=False)
    official["pixel_mean"] = torch.tensor(MSRA_MEAN_BGR[::-1]).view(3, 1, 1)  # an RGB-mean model
    with pytest.raises(ValueError, match="input normalisation"):
        convert_state_dict(official, "yolof_d2", target_model=yolof_c5_model)


# ================================================================================================
# OneNet
# ================================================================================================
def _check_stem_fold(model, official):
    """OneNet normalises RGB images with the ImageNet std; ours feeds BGR with std 1: the stem
    conv's input channels are reversed and divided by the official std (exact)."""
    std = torch.tensor(IMAGENET_STD_RGB)
    want = official[
        (
            "backbone.bottom_up.stem.conv1.weight"
            if "backbone.bottom_up.stem.conv1.weight" in official
            else "backbone.stem.conv1.weight"
        )
    ]
    want = want[:, [2, 1, 0]] / std[[2, 1, 0]].view(1, 3, 1, 1)
    torch.testing.assert_close(model.backbone.bottom_up.stem.conv1.weight, want)
    # and the function: official conv on normalised RGB == ours on BGR
    img = torch.rand(1, 3, 16, 16) * 255
    mean_rgb = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
    w = official.get(
        "backbone.bottom_up.stem.conv1.weight", official.get("backbone.stem.conv1.weight")
    )
    ref = torch.nn.functional.conv2d(
        (img - mean_rgb) / std.view(1, 3, 1, 1), w, stride=2, padding=3
    )
    ours = torch.nn.functional.conv2d(
        img[:, [2, 1, 0]] - mean_rgb[:, [2, 1, 0]], want, stride=2, padding=3
    )
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-3)


STEM = "backbone.bottom_up.stem.conv1.weight"


def test_onenet_centernet_every_tensor_lands(onenet_centernet_model):
    m = onenet_centernet_model
    entries = onenet_centernet_entries(dcn=True)
    official = materialise(entries, seed=2)
    _, report = convert_and_load(m, official, "onenet")
    assert_landed(m, entries, official, transformed={STEM})
    _check_stem_fold(m, official)
    assert torch.equal(
        m.backbone.up_blocks[0].conv.offset_mask.weight,
        official["head.deconv.deconv1.dcn_offset.weight"],
    )
    assert torch.equal(
        m.backbone.up_blocks[2].conv.weight, official["head.deconv.deconv3.dcn.weight"]
    )
    assert torch.equal(
        m.backbone.up_blocks[1].up.weight, official["head.deconv.deconv2.up_sample.weight"]
    )
    assert torch.equal(
        m.backbone.up_blocks[1].norm2.running_var, official["head.deconv.deconv2.up_bn.running_var"]
    )
    assert torch.equal(
        m.backbone.laterals[0].weight, official["head.deconv.lateral_conv1.weight"]
    )  # res4
    assert torch.equal(m.head.shared[0].weight, official["head.feat1.weight"])
    assert torch.equal(m.head.bbox_pred.bias, official["head.ltrb_pred.bias"])
    assert torch.equal(
        m.backbone.bottom_up.stem.conv1.norm.num_batches_tracked,
        official["backbone.stem.conv1.norm.num_batches_tracked"],
    )
    assert any(STEM in f for f in report.folded)


def test_onenet_centernet_nodcn_conv_bias_goes_into_bn():
    m = build_model(
        ONENET_CENTERNET,
        scale="paper",
        overrides=TORCHVISION_RESNET + ["model.backbone.deform=False"],
    ).eval()
    entries = onenet_centernet_entries(dcn=False)
    official = materialise(entries, seed=3)
    _, report = convert_and_load(m, official, "onenet")
    norm1_means = {f"backbone.up_blocks.{i}.norm1.running_mean" for i in range(3)}
    assert_landed(m, entries, official, transformed={STEM} | norm1_means)
    for i in range(3):
        want = (
            official[f"head.deconv.deconv{i + 1}.bn.running_mean"]
            - official[f"head.deconv.deconv{i + 1}.conv.bias"]
        )
        torch.testing.assert_close(m.backbone.up_blocks[i].norm1.running_mean, want)
    # exact at inference: BN(conv(x) + b) with the official stats == BN(conv(x)) with ours
    x = torch.randn(2, 2048, 5, 5)
    w, b = official["head.deconv.deconv1.conv.weight"], official["head.deconv.deconv1.conv.bias"]
    bn = {
        k.split(".")[-1]: official[f"head.deconv.deconv1.bn.{k}"]
        for k in ("weight", "bias", "running_mean", "running_var")
    }
    bn["running_var"] = bn["running_var"].abs() + 0.5
    m.backbone.up_blocks[0].norm1.running_var.copy_(bn["running_var"])
    ref = torch.nn.functional.batch_norm(
        torch.nn.functional.conv2d(x, w, b, padding=1),
        bn["running_mean"],
        bn["running_var"],
        bn["weight"],
        bn["bias"],
    )
    with torch.no_grad():
        ours = m.backbone.up_blocks[0].norm1(m.backbone.up_blocks[0].conv(x))
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-3)
    assert sum("subtracted" in f for f in report.folded) == 3


def test_onenet_fcos_every_tensor_lands(onenet_fcos_model):
    m = onenet_fcos_model
    entries = onenet_fpn_entries("FCOS")
    official = materialise(entries, seed=4)
    for level in range(5):
        official[f"head.scales.{level}.scale"] = torch.tensor([0.75])
    _, report = convert_and_load(m, official, "onenet")
    zero_biases = {
        f"head.{t}.{i}.bias" for t in ("cls_subnet", "bbox_subnet") for i in (0, 3, 6, 9)
    }
    transformed = {STEM, "head.bbox_pred.weight", "head.bbox_pred.bias"} | zero_biases
    assert_landed(m, entries, official, transformed)
    _check_stem_fold(m, official)
    for key in zero_biases:  # OneNet's tower convs have no bias
        assert not m.state_dict()[key].any(), key
    torch.testing.assert_close(m.head.bbox_pred.weight, official["head.ltrb_pred.weight"] * 0.75)
    assert torch.equal(m.head.cls_subnet[4].weight, official["head.cls_conv_module.4.weight"])  # GN
    assert torch.equal(m.head.bbox_subnet[6].weight, official["head.reg_conv_module.6.weight"])
    assert torch.equal(m.backbone.top_block.p6.weight, official["backbone.top_block.p6.weight"])
    assert len(report.filled) == 8


def test_onenet_retinanet_every_tensor_lands(onenet_retinanet_model):
    m = onenet_retinanet_model
    entries = onenet_fpn_entries("RetinaNet")
    official = materialise(entries, seed=5)
    sizes = [[x, x * 2 ** (1.0 / 3), x * 2 ** (2.0 / 3)] for x in [32, 64, 128, 256, 512]]
    for level, anchors in enumerate(cell_anchors(sizes, aspect_ratios=(0.5, 1.0, 2.0))):
        official[f"head.anchor_generator.cell_anchors.{level}"] = anchors
    convert_and_load(m, official, "onenet")
    zero_biases = {
        f"head.{t}.{i}.bias" for t in ("cls_subnet", "bbox_subnet") for i in (0, 2, 4, 6)
    }
    assert_landed(m, entries, official, {STEM} | zero_biases)
    assert torch.equal(m.head.cls_subnet[6].weight, official["head.cls_conv_module.6.weight"])
    assert torch.equal(m.head.cls_score.weight, official["head.cls_score.weight"])


def test_onenet_into_default_configs_names_the_overrides():
    """Our OneNet configs default to MSRA-layout ResNets (and the FCOS one to P6 from P5): loading
    OneNet's torchvision-layout weights needs overrides, which the error names."""
    model = build_model(ONENET_FCOS, scale="paper").eval()
    entries = onenet_fpn_entries("FCOS")
    official = materialise(entries, seed=6)
    for level in range(5):
        official[f"head.scales.{level}.scale"] = torch.tensor([1.0])
    with pytest.raises(ValueError) as info:
        convert_state_dict(official, "onenet", target_model=model)
    msg = str(info.value)
    assert "model.backbone.bottom_up.stages.stride_in_1x1=False" in msg
    assert "backbone.top_block.p6.weight" in msg and "top_block.in_feature=res5" in msg


def test_sources_document_every_rule():
    for spec in SOURCES.values():
        assert spec.rules
        for rule in spec.rules:
            assert rule.pattern.startswith("^") and len(rule.why) > 20, rule


def test_defcn_level_scales_kept_exactly_in_a_head_with_scales():
    """With model.head.learnable_level_scales=True, different per-level scales need no folding."""
    model = build_model(
        DEFCN_R50, scale="paper", overrides=["model.head.learnable_level_scales=True"]
    ).eval()
    scales = (0.9, 1.0, 1.1, 1.2, 1.3)
    entries, official = _defcn_official(scales=scales)
    _, report = convert_and_load(model, official, "defcn_cvpods")
    assert_landed(model, entries, official, {f"head.level_scales.{i}" for i in range(5)})
    assert [float(s) for s in model.head.level_scales] == pytest.approx(scales)
    assert ("head.scales.3.scale", "head.level_scales.3") in report.renamed
    assert not report.folded or all("stem" in f for f in report.folded)


def test_level_scales_multiply_each_level_box_output():
    from detectron2.layers import ShapeSpec

    from d2dense.modeling import FCOSHead

    torch.manual_seed(0)
    kw = dict(input_shape=[ShapeSpec(channels=32)] * 3, conv_dims=[32], num_classes=2, norm="GN")
    plain = FCOSHead(**kw, use_centerness=False)
    scaled = FCOSHead(**kw, use_centerness=False, learnable_level_scales=True)
    scaled.load_state_dict(plain.state_dict(), strict=False)
    with torch.no_grad():
        for level, s in enumerate((0.5, 2.0, 3.0)):
            scaled.level_scales[level].fill_(s)
    feats = [torch.randn(1, 32, 6, 6), torch.randn(1, 32, 3, 3), torch.randn(1, 32, 2, 2)]
    (_, reg_plain), (_, reg_scaled) = plain(feats), scaled(feats)
    for level, s in enumerate((0.5, 2.0, 3.0)):
        torch.testing.assert_close(reg_scaled[level], s * reg_plain[level])
