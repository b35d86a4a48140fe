"""Export of d2dense detectors to TorchScript (tracing) and ONNX, post-processing included.

The NMS-free detectors (DeFCN, PSS with ``inference_mode="pss"``, OneNet) need no NMS, so their
whole inference - network, score maps, threshold + per-level top-k, box decoding, the final top
``max_detections_per_image`` and the rescaling/clipping of :func:`detector_postprocess` - goes
into one graph, and that graph contains no NMS operator (checked after every export:
:func:`torchscript_nms_ops`, :func:`onnx_nms_ops`).

Exported signature (TorchScript and ONNX alike)::

    image (3, H, W) float32  ->  boxes (N, 4) float32, scores (N,) float32, classes (N,) int64

``image`` is exactly what the PyTorch model takes as ``model([{"image": image}])``: one image in
the model's input format (BGR 0-255 for the configs of this repository), already resized by the
test-time resize (see :func:`preprocess_image`). Normalisation, padding to the size divisibility
and everything after the head are in the graph. The outputs are the model's
``instances.pred_boxes`` (XYXY, in the coordinates of ``image``), ``scores`` and ``pred_classes``,
in the model's order (by decreasing score).

Design choices:

* Dynamic N: data-dependent shapes, recorded by tracing (``nonzero`` / ``topk`` with a
  data-dependent k / boolean indexing; ONNX ``NonZero``, ``TopK``, ``GatherND``). N is the number
  of detections the PyTorch model returns for that input (0 to ``max_detections_per_image``): no
  padding, no valid count. The input height and width are dynamic too (the anchors, the padding
  and the clipping are computed from the traced shapes), so one exported file serves every size;
  the score threshold, the top-k and the maximum number of detections are the model's at export
  time, baked in as constants.
* TorchScript: ``torch.jit.trace`` of detectron2's :class:`~detectron2.export.TracingAdapter`,
  whose inference function unpacks the model's ``Instances`` into the three tensors above.
* ONNX: ``torch.onnx.export(..., dynamo=False)``, the TorchScript-based exporter, on the same
  adapter (opset 17). In torch 2.14 the default ``dynamo=True`` exporter (``torch.export``, also
  needs ``onnxscript``) fails on these models: detectron2's ``Boxes`` branches on
  ``tensor.numel() == 0`` of a data-dependent size (``GuardOnDataDependentSymNode``), which
  tracing records once and ``torch.export`` refuses. The TorchScript-based exporter handles the
  data-dependent shapes, needs only ``onnx`` (``onnxruntime`` to run the result) and is still
  shipped by torch 2.14 (with a ``DeprecationWarning``).
* Detectors that run NMS at test time (``model.test_nms_thresh`` set: detectron2's RetinaNet, a
  yacs FCOS/YOLOF config with ``NMS_THRESH_TEST >= 0``, ...) are refused unless
  ``allow_nms=True``; with it, NMS is exported too (``torchvision::nms`` in TorchScript,
  ``NonMaxSuppression`` inside an ONNX ``If`` in ONNX). The LazyConfigs of the one-to-many
  baselines (FCOS, ATSS, YOLOF) set ``test_nms_thresh=None`` (the NMS-aware evaluator applies NMS):
  they export as they run, i.e. the raw candidates without NMS, and a warning says so.
* Deformable convolutions (the paper-scale DCN backbones) have no ONNX symbolic in torchvision;
  :func:`export_onnx` maps ``torchvision::deform_conv2d`` to ONNX ``DeformConv`` and then uses
  opset 19 (onnxruntime runs it). TorchScript keeps ``torchvision::deform_conv2d`` (and
  ``torchvision::nms`` with ``allow_nms``): loading such a file needs ``import torchvision``.
* torch 2.14 marks TorchScript (``torch.jit.trace`` / ``torch.jit.load``) as deprecated
  (``FutureWarning``); it still works, and the ONNX path depends on it as well.
"""

import logging
import os
import warnings
from contextlib import contextmanager
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

from detectron2.export import TracingAdapter

__all__ = [
    "INPUT_NAME",
    "OUTPUT_NAMES",
    "ONNX_OPSET",
    "DEFORM_CONV_OPSET",
    "NMS_FREE_ARCHITECTURES",
    "check_exportable",
    "build_tracing_adapter",
    "trace_model",
    "export_torchscript",
    "export_onnx",
    "torchscript_nms_ops",
    "onnx_nms_ops",
    "ExportedDetector",
    "load_exported",
    "run_exported",
    "preprocess_image",
    "compare_detections",
]

logger = logging.getLogger(__name__)

INPUT_NAME = "image"
OUTPUT_NAMES = ("boxes", "scores", "classes")
ONNX_OPSET = 17
# Meta-architectures whose inference is end-to-end (no NMS by design), by class name.
NMS_FREE_ARCHITECTURES = ("DeFCN", "FCOS_PSS", "ATSS_PSS", "OneNet")
ONNX_NMS_OP_TYPES = ("NonMaxSuppression",)


# ---------------------------------------------------------------------------------------- checks
def _is_nms_free_design(model: nn.Module) -> bool:
    name = type(model).__name__
    if name not in NMS_FREE_ARCHITECTURES:
        return False
    # PSS in its one-to-many mode is the base detector (FCOS / ATSS), which needs NMS
    return getattr(model, "inference_mode", "pss") == "pss"


def check_exportable(model: nn.Module, allow_nms: bool = False) -> None:
    """Refuse a model that runs NMS at test time unless ``allow_nms``; warn when a one-to-many
    design is exported without NMS (its raw candidates, exactly as the PyTorch model returns)."""
    nms_thresh = getattr(model, "test_nms_thresh", None)
    name = type(model).__name__
    spatial_nms = getattr(model, "test_spatial_nms", None)
    if spatial_nms is not None:
        # its greedy loop runs in numpy: a trace records the sample image's kept mask as a
        # constant and applies it to every other image's candidates (allow_nms cannot help)
        raise ValueError(
            f"{name} has test_spatial_nms={spatial_nms} (DeFCN Table 2's NMS within a spatial "
            "range), which cannot be traced: export it with model.test_spatial_nms=None (yacs "
            "MODEL.FCOS.TEST_SPATIAL_NMS [])."
        )
    if nms_thresh is not None and not allow_nms:
        raise ValueError(
            f"{name} runs NMS at test time (test_nms_thresh={nms_thresh}): the NMS-free export "
            "refuses it. Pass allow_nms=True (tools/export_model.py --allow-nms) to export it with "
            "NMS in the graph, or (d2dense's detectors) set test_nms_thresh=None (LazyConfig "
            "model.test_nms_thresh=None; yacs NMS_THRESH_TEST -1) to export its raw candidates."
        )
    if nms_thresh is None and not _is_nms_free_design(model):
        logger.warning(
            "%s is a one-to-many detector exported without NMS (test_nms_thresh=None): the graph "
            "returns its raw candidates, as the PyTorch model does; apply NMS to its outputs.",
            name,
        )


def _walk_torchscript_nodes(block):
    for node in block.nodes():
        yield node
        for sub in node.blocks():
            yield from _walk_torchscript_nodes(sub)


def torchscript_nms_ops(module: torch.jit.ScriptModule) -> List[str]:
    """Kinds of the NMS nodes (``torchvision::nms`` and any other ``*nms*`` op) of a traced module,
    searched in the inlined graph and every nested block (scripted-if-tracing code lands there)."""
    graph = module.inlined_graph if hasattr(module, "inlined_graph") else module.graph
    return sorted({n.kind() for n in _walk_torchscript_nodes(graph) if "nms" in n.kind().lower()})


def _walk_onnx_nodes(graph):
    import onnx

    for node in graph.node:
        yield node
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from _walk_onnx_nodes(attr.g)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for g in attr.graphs:
                    yield from _walk_onnx_nodes(g)


def onnx_nms_ops(model_or_path) -> List[str]:
    """Op types of the NMS nodes (``NonMaxSuppression``, or any custom ``*nms*`` op) of an ONNX
    model, searched in the main graph and every subgraph (``If`` / ``Loop`` bodies)."""
    import onnx

    model = (
        onnx.load(model_or_path) if isinstance(model_or_path, (str, os.PathLike)) else model_or_path
    )
    return sorted(
        {
            n.op_type
            for n in _walk_onnx_nodes(model.graph)
            if n.op_type in ONNX_NMS_OP_TYPES or "nms" in n.op_type.lower()
        }
    )


# ---------------------------------------------------------------------------------------- export
DEFORM_CONV_OPSET = 19  # ONNX DeformConv


def _deform_conv2d_symbolic(
    g, input, weight, offset, mask, bias, stride_h, stride_w, pad_h, pad_w, dil_h, dil_w,
    groups, offset_groups, use_mask,
):  # fmt: skip
    """``torchvision::deform_conv2d`` -> ONNX ``DeformConv`` (opset 19, same offset layout):
    torchvision registers no ONNX symbolic for it, which the DCN backbones need."""
    from torch.onnx import symbolic_helper as sh

    kernel_shape = sh._get_tensor_sizes(weight)[-2:]
    inputs = [input, weight, offset, bias]
    if sh._parse_arg(use_mask, "b"):
        inputs.append(mask)
    ints = [sh._parse_arg(v, "i") for v in (stride_h, stride_w, pad_h, pad_w, dil_h, dil_w)]
    return g.op(
        "DeformConv",
        *inputs,
        strides_i=ints[0:2],
        pads_i=[ints[2], ints[3], ints[2], ints[3]],
        dilations_i=ints[4:6],
        group_i=sh._parse_arg(groups, "i"),
        offset_group_i=sh._parse_arg(offset_groups, "i"),
        kernel_shape_i=list(kernel_shape),
    )


def _has_deform_conv(model: nn.Module) -> bool:
    return any("deform" in type(m).__name__.lower() for m in model.modules())


def _register_onnx_symbolics(opset_version: int) -> None:
    if opset_version >= DEFORM_CONV_OPSET:
        torch.onnx.register_custom_op_symbolic(
            "torchvision::deform_conv2d", _deform_conv2d_symbolic, DEFORM_CONV_OPSET
        )


@contextmanager
def _explain_unsupported(opset_version: int):
    try:
        yield
    except Exception as e:
        if "deform_conv2d" in str(e) and opset_version < DEFORM_CONV_OPSET:
            raise RuntimeError(
                f"deformable convolution needs ONNX opset >= {DEFORM_CONV_OPSET} (DeformConv), "
                f"got opset_version={opset_version}"
            ) from e
        raise


def _inference(model: nn.Module, image: torch.Tensor) -> Tuple[torch.Tensor, ...]:
    instances = model([{INPUT_NAME: image}])[0]["instances"]
    return instances.pred_boxes.tensor, instances.scores, instances.pred_classes


def _check_image(model: nn.Module, image: torch.Tensor) -> torch.Tensor:
    if not isinstance(image, torch.Tensor) or image.dim() != 3:
        raise ValueError(
            f"sample_image must be a (C, H, W) tensor, got {getattr(image, 'shape', type(image))}"
        )
    device = next(model.parameters()).device
    return image.to(device=device, dtype=torch.float32)


def build_tracing_adapter(model: nn.Module, sample_image: torch.Tensor) -> TracingAdapter:
    """detectron2's ``TracingAdapter`` around ``model`` (put in eval mode): one ``(C, H, W)``
    image in, ``(boxes, scores, classes)`` out."""
    # the adapter itself in eval mode too: the ONNX exporter restores the mode of the module it is
    # given afterwards, recursively, which would otherwise leave the model in training mode
    return TracingAdapter(model, (_check_image(model, sample_image),), _inference).eval()


@contextmanager
def _quiet_tracing():
    # The tracer warns about every python bool/int it records (detectron2's shape asserts, empty
    # checks); they are expected here and would drown the log.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", category=UserWarning, message=".*[Tt]rac.*")
        yield


def trace_model(
    model: nn.Module, sample_image: torch.Tensor, allow_nms: bool = False
) -> torch.jit.ScriptModule:
    """``torch.jit.trace`` of :func:`build_tracing_adapter`; raises if NMS ended up in the graph of
    a model that should have none."""
    check_exportable(model, allow_nms)
    adapter = build_tracing_adapter(model, sample_image)
    with _quiet_tracing(), torch.no_grad():
        traced = torch.jit.trace(adapter, adapter.flattened_inputs, check_trace=False)
    nms = torchscript_nms_ops(traced)
    if nms and not allow_nms:
        raise RuntimeError(f"the traced graph of {type(model).__name__} contains NMS ({nms})")
    return traced


def export_torchscript(
    model: nn.Module, sample_image: torch.Tensor, path: str, allow_nms: bool = False
) -> str:
    """Trace ``model`` on ``sample_image`` ``(C, H, W)`` and save it to ``path`` (``torch.jit``)."""
    traced = trace_model(model, sample_image, allow_nms)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    traced.save(path)
    logger.info("TorchScript model written to %s", path)
    return path


def export_onnx(
    model: nn.Module,
    sample_image: torch.Tensor,
    path: str,
    allow_nms: bool = False,
    opset_version: Optional[int] = None,
) -> str:
    """Export ``model`` to ONNX at ``path`` with the TorchScript-based exporter (``dynamo=False``,
    see the module docstring), dynamic image height/width and dynamic number of detections.
    ``opset_version``: default :data:`ONNX_OPSET` (17), or 19 (``DeformConv``) for a model with
    deformable convolutions (the DCN backbones)."""
    check_exportable(model, allow_nms)
    if opset_version is None:
        opset_version = DEFORM_CONV_OPSET if _has_deform_conv(model) else ONNX_OPSET
    adapter = build_tracing_adapter(model, sample_image)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    dynamic_axes = {INPUT_NAME: {1: "height", 2: "width"}}
    dynamic_axes.update({name: {0: "num_detections"} for name in OUTPUT_NAMES})
    _register_onnx_symbolics(opset_version)
    with _quiet_tracing(), torch.no_grad(), _explain_unsupported(opset_version):
        torch.onnx.export(
            adapter,
            adapter.flattened_inputs,
            path,
            dynamo=False,
            opset_version=opset_version,
            input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES),
            dynamic_axes=dynamic_axes,
            do_constant_folding=True,
        )
    nms = onnx_nms_ops(path)
    if nms and not allow_nms:
        os.remove(path)
        raise RuntimeError(f"the ONNX graph of {type(model).__name__} contains NMS ({nms})")
    logger.info("ONNX model written to %s", path)
    return path


# ---------------------------------------------------------------------------------------- running
class ExportedDetector:
    """An exported file (``.onnx``: onnxruntime; anything else: ``torch.jit.load``) called like the
    model: ``detector(image)`` -> ``{"boxes", "scores", "classes"}`` as CPU torch tensors.
    ``num_threads`` sets onnxruntime's intra-op threads (default: onnxruntime's choice)."""

    def __init__(
        self,
        path: str,
        providers: Optional[Sequence[str]] = None,
        num_threads: Optional[int] = None,
    ):
        self.path = path
        self.format = "onnx" if path.endswith(".onnx") else "torchscript"
        if self.format == "onnx":
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.log_severity_level = 3  # no warnings about unused initialisers
            if num_threads:
                options.intra_op_num_threads = num_threads
            self.session = ort.InferenceSession(
                path, options, providers=list(providers or ["CPUExecutionProvider"])
            )
            self.module = None
        else:
            self.session = None
            self.module = torch.jit.load(path, map_location="cpu")
            self.module.eval()

    def __call__(self, image: Union[torch.Tensor, np.ndarray]) -> Dict[str, torch.Tensor]:
        if self.format == "onnx":
            array = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else image
            outputs = self.session.run(list(OUTPUT_NAMES), {INPUT_NAME: array.astype(np.float32)})
            outputs = [torch.from_numpy(np.asarray(o)) for o in outputs]
        else:
            tensor = torch.as_tensor(image, dtype=torch.float32)
            with torch.no_grad():
                outputs = [o.cpu() for o in self.module(tensor)]
        return dict(zip(OUTPUT_NAMES, outputs))


def load_exported(
    path: str, providers: Optional[Sequence[str]] = None, num_threads: Optional[int] = None
) -> ExportedDetector:
    return ExportedDetector(path, providers, num_threads)


def run_exported(
    exported: Union[str, ExportedDetector], image: Union[torch.Tensor, np.ndarray]
) -> Dict[str, torch.Tensor]:
    """Run an exported file (a path, or a loaded :class:`ExportedDetector`) on one preprocessed
    ``(C, H, W)`` image: ``{"boxes": (N, 4), "scores": (N,), "classes": (N,)}``."""
    detector = exported if isinstance(exported, ExportedDetector) else load_exported(exported)
    return detector(image)


def preprocess_image(loaded, image: np.ndarray, image_format: str = "BGR") -> torch.Tensor:
    """An ``HWC`` uint8 image (``cv2.imread`` order by default) -> the ``(C, H, W)`` float tensor
    the exported graph takes: the config's test-time resize and input format, like the test
    loader (``loaded``: a :class:`d2dense.engine.LoadedConfig`)."""
    from detectron2.data import transforms as T

    if image_format != loaded.input_format:
        image = image[:, :, ::-1]
    aug = T.AugInput(np.ascontiguousarray(image))
    T.AugmentationList(loaded.test_augmentations())(aug)
    return torch.as_tensor(aug.image.astype("float32").transpose(2, 0, 1))


def compare_detections(
    expected: Dict[str, torch.Tensor], actual: Dict[str, torch.Tensor]
) -> Dict[str, float]:
    """Match two detection sets (same class, nearest box; so detections with equal scores may
    come in either order) and return ``{"num_expected", "num_actual", "max_box_diff",
    "max_score_diff", "num_class_mismatch", "num_reordered"}``. Differences are ``inf`` when the
    counts differ."""
    from scipy.optimize import linear_sum_assignment

    e = {k: torch.as_tensor(v).detach().cpu() for k, v in expected.items()}
    a = {k: torch.as_tensor(v).detach().cpu() for k, v in actual.items()}
    n_e, n_a = len(e["scores"]), len(a["scores"])
    report = {"num_expected": n_e, "num_actual": n_a}
    if n_e != n_a:
        return {**report, "max_box_diff": float("inf"), "max_score_diff": float("inf"),
                "num_class_mismatch": -1, "num_reordered": -1}  # fmt: skip
    if n_e == 0:
        return {**report, "max_box_diff": 0.0, "max_score_diff": 0.0,
                "num_class_mismatch": 0, "num_reordered": 0}  # fmt: skip
    box_cost = (e["boxes"][:, None, :].double() - a["boxes"][None, :, :].double()).abs().amax(-1)
    score_cost = (e["scores"][:, None].double() - a["scores"][None, :].double()).abs()
    class_cost = (e["classes"][:, None] != a["classes"][None, :]).double() * 1e9
    rows, cols = linear_sum_assignment((box_cost + score_cost + class_cost).numpy())
    cols = torch.as_tensor(cols)[torch.as_tensor(rows).argsort()]
    return {
        **report,
        "max_box_diff": float((e["boxes"] - a["boxes"][cols]).abs().max()),
        "max_score_diff": float((e["scores"] - a["scores"][cols]).abs().max()),
        "num_class_mismatch": int((e["classes"] != a["classes"][cols]).sum()),
        "num_reordered": int((cols != torch.arange(n_e)).sum()),
    }
