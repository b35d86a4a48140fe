"""TorchScript / ONNX export of the NMS-free detectors (d2dense/export.py, tools/export_model.py).

For the small CPU variant of DeFCN, PSS and OneNet (FCOS-style) on a real COCO image resized by
the config's test resize: the exported file (torch.jit.load / onnxruntime) returns the PyTorch
model's boxes, scores and classes, and its graph has no NMS op. The models are randomly
initialised, so the score threshold is set (from a probe run) inside the widest gap among the
10-60 best scores: the outputs are non-empty and no score sits near the threshold, so numerical
noise between backends cannot change the count.
"""

import json
import os
import sys

import numpy as np
import pytest
import torch

import onnx
from detectron2.config import instantiate
from detectron2.data import transforms as T
from detectron2.data.detection_utils import read_image

from d2dense import export as d2export
from helpers import REPO_ROOT, build_model, load_config

sys.path.insert(0, os.path.join(REPO_ROOT, "tools"))
import export_model as export_tool  # noqa: E402

IMAGE = os.path.join(REPO_ROOT, "datasets", "coco_sample", "images", "000000000136.jpg")
CONFIGS = {
    "defcn": "DeFCN/poto_3dmf_aux_R_50_FPN_3x.py",
    "pss": "PSS/fcos_pss_R_50_FPN_3x.py",
    "onenet": "OneNet/fcos_o2o_cls_R_50_FPN_3x.py",
}
YOLOF = "YOLOF/yolof_R_50_C5_1x.py"


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One intra-op thread: the machine's two cores are shared, and oversubscribed threads make
    the CPU forward ~10x slower than a single one."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _test_image(rel_path, path=IMAGE):
    """The image as the test loader gives it: BGR, the config's test resize (short side 320)."""
    cfg = load_config(rel_path)
    augs = T.AugmentationList(instantiate(cfg.dataloader.test.mapper.augmentations))
    aug = T.AugInput(read_image(path, format="BGR"))
    augs(aug)
    return torch.as_tensor(np.ascontiguousarray(aug.image.transpose(2, 0, 1)).astype("float32"))


def _run_model(model, image):
    with torch.no_grad():
        inst = model([{"image": image}])[0]["instances"]
    return {"boxes": inst.pred_boxes.tensor, "scores": inst.scores, "classes": inst.pred_classes}


def _calibrate_threshold(model, image, lo=10, hi=60):
    """Set ``model.test_score_thresh`` in the widest gap between consecutive scores ranked lo..hi
    of a probe run; returns the gap (the margin against numerical noise)."""
    max_dets = model.max_detections_per_image
    model.test_score_thresh, model.max_detections_per_image = 0.0, 1000
    scores = _run_model(model, image)["scores"].double()
    model.max_detections_per_image = max_dets
    assert len(scores) > hi, f"probe run returned only {len(scores)} detections"
    gaps = scores[lo - 1 : hi] - scores[lo : hi + 1]
    n = lo + int(gaps.argmax())
    model.test_score_thresh = float((scores[n - 1] + scores[n]) / 2)
    return float(gaps.max())


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def case(request):
    rel_path = CONFIGS[request.param]
    model = build_model(rel_path).eval()
    assert model.test_nms_thresh is None
    image = _test_image(rel_path)
    gap = _calibrate_threshold(model, image)
    assert gap > 1e-6, f"scores too close to threshold: gap {gap}"
    expected = _run_model(model, image)
    assert 0 < len(expected["scores"]) <= 60
    return {"name": request.param, "model": model, "image": image, "expected": expected}


def _assert_same_detections(expected, actual):
    n = len(expected["scores"])
    assert n > 0
    assert actual["boxes"].shape == (n, 4)
    assert actual["scores"].shape == (n,) and actual["classes"].shape == (n,)
    assert actual["classes"].dtype == torch.int64
    # The model's order (decreasing score); equal scores may come in either order, so compare
    # the detections matched one to one (same class, nearest box).
    assert (actual["scores"][:-1] >= actual["scores"][1:] - 1e-6).all()
    diff = d2export.compare_detections(expected, actual)
    assert diff["num_class_mismatch"] == 0, diff
    assert diff["max_box_diff"] <= 1e-3, diff  # pixels
    assert diff["max_score_diff"] <= 1e-5, diff
    torch.testing.assert_close(actual["scores"], expected["scores"], rtol=1e-4, atol=1e-5)


def _other_size():
    """A second input size (dynamic height/width): the image with short side 192."""
    aug = T.AugInput(read_image(IMAGE, format="BGR"))
    T.ResizeShortestEdge(192, 533)(aug)
    return torch.as_tensor(np.ascontiguousarray(aug.image.transpose(2, 0, 1)).astype("float32"))


def test_torchscript_matches_pytorch_without_nms(case, tmp_path):
    path = str(tmp_path / "model.ts")
    d2export.export_torchscript(case["model"], case["image"], path)
    loaded = torch.jit.load(path)
    graph = str(loaded.inlined_graph)
    assert "torchvision::nms" not in graph and "batched_nms" not in graph
    assert d2export.torchscript_nms_ops(loaded) == []
    assert any(n.kind() == "aten::topk" for n in loaded.inlined_graph.nodes())  # top-k is in it

    detector = d2export.load_exported(path)
    assert detector.format == "torchscript"
    _assert_same_detections(case["expected"], detector(case["image"]))
    if case["name"] == "defcn":  # the traced graph is not specialised to the tracing size
        other = _other_size()
        assert other.shape != case["image"].shape
        exp = _run_model(case["model"], other)
        out = detector(other)
        assert len(out["scores"]) == len(exp["scores"])
        if len(exp["scores"]):
            _assert_same_detections(exp, out)


def test_onnx_matches_pytorch_without_nms(case, tmp_path):
    path = str(tmp_path / "model.onnx")
    d2export.export_onnx(case["model"], case["image"], path)
    model = onnx.load(path)
    onnx.checker.check_model(model)
    op_types = {n.op_type for n in model.graph.node}
    assert "NonMaxSuppression" not in op_types and "TopK" in op_types
    assert d2export.onnx_nms_ops(model) == []  # subgraphs (If/Loop bodies) included
    assert [i.name for i in model.graph.input] == ["image"]
    assert [o.name for o in model.graph.output] == ["boxes", "scores", "classes"]

    detector = d2export.load_exported(path, num_threads=1)
    assert detector.format == "onnx"
    assert d2export.run_exported(detector, case["image"])["boxes"].shape[1] == 4
    _assert_same_detections(case["expected"], detector(case["image"]))
    # the model is left as it was (eval mode), so the reference still holds
    assert not case["model"].training
    if case["name"] == "defcn":  # dynamic height / width
        other = _other_size()
        exp = _run_model(case["model"], other)
        out = detector(other.numpy())
        assert len(out["scores"]) == len(exp["scores"])
        if len(exp["scores"]):
            _assert_same_detections(exp, out)


def test_nms_model_is_refused_unless_allowed(tmp_path):
    """YOLOF with its paper NMS (0.6): refused by default; with allow_nms the NMS is exported and
    the graph checks find it (in ONNX it sits inside an If subgraph)."""
    model = build_model(YOLOF, overrides=["model.test_nms_thresh=0.6"]).eval()
    image = torch.rand(3, 128, 160) * 255
    with pytest.raises(ValueError, match="allow_nms"):
        d2export.export_torchscript(model, image, str(tmp_path / "m.ts"))
    with pytest.raises(ValueError, match="allow_nms"):
        d2export.export_onnx(model, image, str(tmp_path / "m.onnx"))
    assert not os.path.exists(tmp_path / "m.ts") and not os.path.exists(tmp_path / "m.onnx")

    model.test_score_thresh = 0.0
    traced = d2export.trace_model(model, image, allow_nms=True)
    assert d2export.torchscript_nms_ops(traced) == ["torchvision::nms"]
    path = d2export.export_onnx(model, image, str(tmp_path / "m.onnx"), allow_nms=True)
    assert d2export.onnx_nms_ops(path) == ["NonMaxSuppression"]


def test_spatial_nms_model_is_refused(tmp_path):
    """DeFCN Table 2's ranged NMS decides in numpy: a trace would replay the sample image's kept
    mask on every input (with saturated top-k the shapes match and the output is silently wrong)."""
    model = build_model(
        "Baselines/fcos_wo_ctr_R_50_FPN_3x.py", overrides=["model.test_spatial_nms=[3,0.6]"]
    ).eval()
    image = torch.rand(3, 128, 160) * 255
    for allow_nms in (False, True):
        with pytest.raises(ValueError, match="test_spatial_nms"):
            d2export.trace_model(model, image, allow_nms=allow_nms)
        with pytest.raises(ValueError, match="test_spatial_nms"):
            d2export.export_onnx(model, image, str(tmp_path / "m.onnx"), allow_nms=allow_nms)
    assert not os.path.exists(tmp_path / "m.onnx")


def test_compare_detections_matches_reordered_ties_and_flags_differences():
    e = {
        "boxes": torch.tensor([[0.0, 0, 10, 10], [5, 5, 20, 20], [1, 2, 3, 4]]),
        "scores": torch.tensor([0.9, 0.5, 0.5]),
        "classes": torch.tensor([1, 2, 3]),
    }
    swapped = {k: v[[0, 2, 1]] for k, v in e.items()}
    diff = d2export.compare_detections(e, swapped)
    assert (
        diff["num_reordered"] == 2 and diff["max_box_diff"] == 0 and diff["num_class_mismatch"] == 0
    )
    moved = {**e, "boxes": e["boxes"] + torch.tensor([0.0, 0, 0, 0.5])}
    assert d2export.compare_detections(e, moved)["max_box_diff"] == pytest.approx(0.5)
    fewer = {k: v[:2] for k, v in e.items()}
    assert d2export.compare_detections(e, fewer)["max_box_diff"] == float("inf")


def test_export_model_cli(tmp_path, monkeypatch):
    """tools/export_model.py on the CPU-scale DeFCN config (lazy overrides incl. scale=cpu)."""
    args = export_tool.get_parser().parse_args(
        [
            "--config-file",
            os.path.join(REPO_ROOT, "configs", CONFIGS["defcn"]),
            "--format",
            "torchscript",
            "--output",
            str(tmp_path),
            "--sample-image",
            IMAGE,
            "scale=cpu",
            "model.test_score_thresh=0.0",
        ]
    )
    torch.manual_seed(0)
    result = export_tool.main(args)
    assert result["ok"], result
    assert result["verify"]["num_expected"] > 0
    assert result["verify"]["max_box_diff"] <= 1e-3
    assert os.path.isfile(tmp_path / "model.ts")
    info = json.loads((tmp_path / "export_info.json").read_text())
    assert info["meta_architecture"] == "DeFCN" and info["test_nms_thresh"] is None
    assert info["input"]["format"] == "BGR" and info["test_score_thresh"] == 0.0

    # an exported graph whose boxes or scores are off (same count and classes) is not "ok"
    run_exported = d2export.run_exported
    for key, delta in (("boxes", 2.0), ("scores", -0.01)):

        def shifted(path, image, key=key, delta=delta):
            out = run_exported(path, image)
            return {**out, key: out[key] + delta}

        monkeypatch.setattr(d2export, "run_exported", shifted)
        torch.manual_seed(0)
        off = export_tool.main(args)
        assert off["verify"]["num_expected"] == off["verify"]["num_actual"] > 0
        assert off["verify"]["num_class_mismatch"] == 0
        assert not off["ok"], (key, off)
    monkeypatch.setattr(d2export, "run_exported", run_exported)

    bad = export_tool.get_parser().parse_args(
        ["--config-file", os.path.join(REPO_ROOT, "configs", CONFIGS["defcn"]), "--format",
         "onnx", "--output", str(tmp_path), "--sample-image", str(tmp_path / "missing.jpg"),
         "scale=cpu"]  # fmt: skip
    )
    with pytest.raises(FileNotFoundError, match="missing.jpg"):
        export_tool.main(bad)


def test_deformable_conv_model_exports_to_onnx_deformconv(tmp_path):
    """A DCN model (OneNet CenterNet "DCN" at paper scale: R50 + modulated deformable convs in the
    upsampling; the CPU variants have none): torchvision's deform_conv2d becomes ONNX DeformConv
    (opset 19, chosen automatically) and the outputs match."""
    model = build_model("OneNet/centernet_o2o_cls_R_50_DCN_270k.py", scale="paper").eval()
    torch.manual_seed(0)
    image = torch.rand(3, 128, 160) * 255
    assert _calibrate_threshold(model, image) > 1e-6
    expected = _run_model(model, image)
    path = d2export.export_onnx(model, image, str(tmp_path / "dcn.onnx"))
    onnx_model = onnx.load(path)
    assert sum(n.op_type == "DeformConv" for n in onnx_model.graph.node) == 3
    assert onnx_model.opset_import[0].version == d2export.DEFORM_CONV_OPSET
    assert d2export.onnx_nms_ops(onnx_model) == []
    _assert_same_detections(expected, d2export.run_exported(path, image))
