#!/usr/bin/env python
"""Export a d2dense detector to TorchScript or ONNX, post-processing included (no NMS in the
graph of the NMS-free detectors: DeFCN, PSS, OneNet).

    python tools/export_model.py --config-file configs/DeFCN/poto_3dmf_aux_R_50_FPN_3x.py \\
        --format onnx --output export/ train.init_checkpoint=output/model_final.pth
    python tools/export_model.py --config-file configs/DeFCN/poto_3dmf_aux_R_50_FPN_3x.py \\
        --format torchscript --output export/ --sample-image photo.jpg scale=cpu
    python tools/export_model.py --config-file configs/DeFCN/yacs/poto_3dmf_aux_R_50_FPN_3x.yaml \\
        --format onnx --output export/ MODEL.WEIGHTS output/model_final.pth

Reads LazyConfig (``.py``, or a run's saved ``config.yaml``) and yacs configs like train_net.py,
with the same overrides (``key=value`` for LazyConfig, including ``scale=cpu``; ``KEY VALUE`` pairs
for yacs). Weights come from ``train.init_checkpoint`` / ``MODEL.WEIGHTS`` (detectron2's
DetectionCheckpointer). Writes ``model.ts`` or ``model.onnx`` and ``export_info.json`` (input
format, test resize, baked-in thresholds) to ``--output``.

The exported graph takes one image ``(3, H, W)`` float32 - the model's input format, already
resized by the config's test resize (any H, W work) - and returns ``boxes (N, 4)`` (XYXY in that
image's coordinates), ``scores (N,)`` and ``classes (N,)``, N data-dependent: exactly the model's
``instances`` for that input. ``--sample-image`` (default: a bundled COCO image) is the tracing
input; after export the file is run on it and compared with the PyTorch model: the same
detections and classes, boxes within ``BOX_TOL`` px and scores within ``SCORE_TOL``; otherwise
the exit status is 1 (``--no-verify`` skips the check). Models that run NMS at test time are
refused unless ``--allow-nms`` (then NMS is in the graph). See d2dense/export.py.
"""

import argparse
import json
import logging
import os
import sys

import numpy as np
import torch

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

from detectron2.data.detection_utils import read_image  # noqa: E402
from detectron2.utils.logger import setup_logger  # noqa: E402

from d2dense import export as d2export  # noqa: E402
from d2dense.engine import load_config  # noqa: E402

logger = logging.getLogger("d2dense.export_model")
DEFAULT_SAMPLE = os.path.join(REPO_ROOT, "datasets", "coco_sample", "images", "000000000136.jpg")
FILENAMES = {"torchscript": "model.ts", "onnx": "model.onnx"}
# the exported file must reproduce the PyTorch detections within these (backend float noise is
# ~1e-3 px / 1e-5 in score on the CPU models; a wrong graph is off by pixels)
BOX_TOL = 0.1  # pixels
SCORE_TOL = 1e-3


def get_parser():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config-file", required=True, metavar="FILE")
    parser.add_argument("--format", required=True, choices=sorted(FILENAMES))
    parser.add_argument("--output", required=True, metavar="DIR", help="output directory")
    parser.add_argument(
        "--sample-image",
        default=None,
        metavar="IMG",
        help="image to trace with (and verify on); default: a bundled COCO sample image",
    )
    parser.add_argument(
        "--allow-nms",
        action="store_true",
        help="export a model that runs NMS at test time, NMS included in the graph",
    )
    parser.add_argument(
        "--opset",
        type=int,
        default=None,
        help=f"ONNX opset (default {d2export.ONNX_OPSET}, {d2export.DEFORM_CONV_OPSET} with "
        "deformable convolutions)",
    )
    parser.add_argument("--no-verify", action="store_true", help="skip the check against PyTorch")
    parser.add_argument(
        "opts",
        nargs=argparse.REMAINDER,
        default=[],
        help="config overrides: key=value (LazyConfig, e.g. scale=cpu) or KEY VALUE pairs (yacs)",
    )
    return parser


def sample_tensor(loaded, path):
    """The tracing input: ``path`` (or the bundled COCO image) through the config's test resize;
    without either, a random image of the test size."""
    path = path or (DEFAULT_SAMPLE if os.path.isfile(DEFAULT_SAMPLE) else None)
    if path is None:
        logger.warning("no --sample-image and no bundled sample: tracing on a random image")
        rng = np.random.default_rng(0)
        image = rng.integers(0, 256, size=(480, 640, 3), dtype=np.uint8)
    else:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"--sample-image {path!r}: no such file")
        image = read_image(path, format="BGR")
    return d2export.preprocess_image(loaded, image, "BGR")


def _onnx_opset(path):
    import onnx

    model = onnx.load(path, load_external_data=False)
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)


def export_info(loaded, model, args, path):
    resize = [
        {k: getattr(a, k) for k in ("short_edge_length", "max_size") if hasattr(a, k)}
        for a in loaded.test_augmentations()
    ]
    return {
        "file": os.path.basename(path),
        "format": args.format,
        "config_file": args.config_file,
        "overrides": list(args.opts),
        "weights": loaded.weights,
        "meta_architecture": type(model).__name__,
        "input": {
            "name": d2export.INPUT_NAME,
            "shape": ["3", "height", "width"],
            "dtype": "float32",
            "format": loaded.input_format,
            "test_resize": json.loads(json.dumps(resize, default=list)),
        },
        "outputs": {
            "boxes": "(N, 4) float32 XYXY in input-image coordinates",
            "scores": "(N,) float32, decreasing",
            "classes": "(N,) int64",
        },
        "num_classes": getattr(model, "num_classes", None),
        "test_score_thresh": getattr(model, "test_score_thresh", None),
        "test_topk_candidates": getattr(model, "test_topk_candidates", None),
        "max_detections_per_image": getattr(model, "max_detections_per_image", None),
        "test_nms_thresh": getattr(model, "test_nms_thresh", None),
        "onnx_opset": _onnx_opset(path) if args.format == "onnx" else None,
    }


def main(args):
    setup_logger(name="d2dense")
    setup_logger(name=logger.name)
    loaded = load_config(args.config_file, args.opts, device="cpu")
    image = sample_tensor(loaded, args.sample_image)
    model = loaded.build_model()
    os.makedirs(args.output, exist_ok=True)
    path = os.path.join(args.output, FILENAMES[args.format])
    if args.format == "torchscript":
        d2export.export_torchscript(model, image, path, allow_nms=args.allow_nms)
    else:
        d2export.export_onnx(model, image, path, allow_nms=args.allow_nms, opset_version=args.opset)
    with open(os.path.join(args.output, "export_info.json"), "w") as f:
        json.dump(export_info(loaded, model, args, path), f, indent=2)
    result = {"path": path}
    if not args.no_verify:
        with torch.no_grad():
            inst = model([{"image": image}])[0]["instances"].to("cpu")
        expected = {
            "boxes": inst.pred_boxes.tensor,
            "scores": inst.scores,
            "classes": inst.pred_classes,
        }
        result["verify"] = d2export.compare_detections(expected, d2export.run_exported(path, image))
        logger.info(
            "exported vs PyTorch on the sample image %s: %s", tuple(image.shape), result["verify"]
        )
        v = result["verify"]
        result["ok"] = (
            v["num_expected"] == v["num_actual"]
            and v["num_class_mismatch"] == 0
            and v["max_box_diff"] <= BOX_TOL
            and v["max_score_diff"] <= SCORE_TOL
        )
        if not result["ok"]:
            logger.error(
                "the exported model's detections differ from the PyTorch model's (tolerance "
                "%s px, %s in score): %s",
                BOX_TOL,
                SCORE_TOL,
                v,
            )
        elif v["num_expected"] == 0:
            logger.warning(
                "the model detects nothing on the sample image (above test_score_thresh=%s): the "
                "check compared empty outputs",
                getattr(model, "test_score_thresh", None),
            )
    logger.info("wrote %s", path)
    return result


if __name__ == "__main__":
    try:
        outcome = main(get_parser().parse_args())
    except (ValueError, FileNotFoundError) as e:  # a refused model, a bad path or override
        sys.exit(f"export_model.py: error: {e}")
    sys.exit(0 if outcome.get("ok", True) else 1)
