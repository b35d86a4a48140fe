#!/usr/bin/env python
"""Run a trained d2dense detector on images, a folder or a video and draw its detections.

    python tools/demo.py --config-file configs/DeFCN/poto_3dmf_aux_R_50_FPN_3x.py \\
        --input img1.jpg photos/ "more/*.png" --output out/ --nms both \\
        --opts train.init_checkpoint=output/model_final.pth
    python tools/demo.py --config-file configs/DeFCN/yacs/poto_3dmf_aux_R_50_FPN_3x.yaml \\
        --video-input street.mp4 --output out/ --opts MODEL.WEIGHTS model_final.pth

Reads LazyConfig (``.py``, or a run's saved ``config.yaml``) and yacs configs alike (upstream's
demo reads yacs only); ``--opts`` takes the same overrides as ``train_net.py`` (``scale=cpu`` for a
CPU-scale model). Boxes are drawn by detectron2's Visualizer with the test dataset's class names.
``--nms`` chooses what is drawn: ``off`` the model's own output (an NMS-free detector's final
answer), ``on`` after class-aware NMS at ``--nms-thresh``, ``both`` the two side by side, which
shows the duplicates a one-to-many detector leaves without NMS.
"""

import argparse
import glob
import logging
import os
import sys
import time

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

from detectron2.data.detection_utils import read_image  # noqa: E402
from detectron2.utils.logger import setup_logger  # noqa: E402

from d2dense.engine import Predictor, load_config  # noqa: E402
from d2dense.visualize import apply_nms, draw_instances  # noqa: E402

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
logger = logging.getLogger("d2dense.demo")


def expand_inputs(inputs):
    """Files, folders (their images, sorted) and glob patterns -> image paths; unknown paths are
    an error naming them."""
    paths = []
    for item in inputs:
        if os.path.isdir(item):
            found = sorted(
                os.path.join(item, f)
                for f in os.listdir(item)
                if f.lower().endswith(IMAGE_EXTENSIONS)
            )
        elif os.path.isfile(item):
            found = [item]
        else:
            found = sorted(glob.glob(os.path.expanduser(item)))
        if not found:
            raise FileNotFoundError(f"--input {item!r}: no such image, folder or glob match")
        paths.extend(found)
    return paths


def render(predictor, image_bgr, metadata_name, args):
    """One image -> (RGB picture, number of boxes drawn per panel)."""
    instances = predictor(image_bgr).to("cpu")
    rgb = image_bgr[:, :, ::-1]
    panels = []
    if args.nms in ("off", "both"):
        panels.append(("raw output", instances))
    if args.nms in ("on", "both"):
        panels.append((f"NMS {args.nms_thresh}", apply_nms(instances, args.nms_thresh)))
    pictures, counts = [], []
    for title, inst in panels:
        kept = int((inst.scores >= args.confidence_threshold).sum())
        counts.append(kept)
        pictures.append(
            draw_instances(
                rgb, inst, metadata_name, args.confidence_threshold, f"{title}: {kept} boxes"
            )
        )
    return np.concatenate(pictures, axis=1), counts


def output_path(args, input_path, suffix=None):
    if args.output is None:
        return None
    if os.path.splitext(args.output)[1] and not os.path.isdir(args.output):
        return args.output  # a file name (single input)
    os.makedirs(args.output, exist_ok=True)
    name = os.path.basename(input_path)
    if suffix:
        name = os.path.splitext(name)[0] + suffix
    return os.path.join(args.output, name)


def run_images(predictor, metadata_name, args):
    import cv2

    paths = expand_inputs(args.input)
    if len(paths) > 1 and args.output and os.path.splitext(args.output)[1]:
        raise ValueError(f"--output {args.output!r} is a file but there are {len(paths)} inputs")
    seen = {}
    for path in paths:
        other = seen.setdefault(os.path.basename(path), path)
        if args.output and other != path:
            raise ValueError(
                f"--input {other!r} and {path!r} would both be drawn to "
                f"{os.path.join(args.output, os.path.basename(path))!r}: give them distinct names"
            )
    written = []
    for path in paths:
        image = read_image(path, format="BGR")
        start = time.perf_counter()
        picture, counts = render(predictor, image, metadata_name, args)
        logger.info(
            "%s: %s boxes >= %.2f in %.2fs",
            path,
            " / ".join(map(str, counts)),
            args.confidence_threshold,
            time.perf_counter() - start,
        )
        out = output_path(args, path)
        if out:
            cv2.imwrite(out, picture[:, :, ::-1])
            written.append(out)
    return written


def run_video(predictor, metadata_name, args):
    import cv2

    video = cv2.VideoCapture(args.video_input)
    if not video.isOpened():
        raise FileNotFoundError(f"--video-input {args.video_input!r}: cannot open this video")
    fps = video.get(cv2.CAP_PROP_FPS) or 25.0
    out_path = output_path(args, args.video_input, suffix=".avi")
    writer, frames = None, 0
    while True:
        ok, frame = video.read()
        if not ok:
            break
        picture, _ = render(predictor, frame, metadata_name, args)
        frames += 1
        if out_path:
            if writer is None:
                h, w = picture.shape[:2]
                writer = cv2.VideoWriter(out_path, cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
            writer.write(np.ascontiguousarray(picture[:, :, ::-1]))
    video.release()
    if writer is not None:
        writer.release()
    logger.info("%s: %d frames -> %s", args.video_input, frames, out_path)
    return [out_path] if out_path and frames else []


def get_parser():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--config-file", required=True, help="LazyConfig .py/.yaml or yacs .yaml")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--input", nargs="+", help="images, folders or glob patterns")
    src.add_argument("--video-input", help="a video file")
    ap.add_argument("--output", help="output folder (or a file name for a single image)")
    ap.add_argument("--confidence-threshold", type=float, default=0.3)
    ap.add_argument("--nms", choices=("off", "on", "both"), default="off")
    ap.add_argument("--nms-thresh", type=float, default=0.6, help="class-aware NMS IoU")
    ap.add_argument("--device", default=None, help="cpu / cuda (default: the config's)")
    ap.add_argument("--opts", nargs=argparse.REMAINDER, default=[], help="config overrides")
    return ap


def main(argv=None):
    args = get_parser().parse_args(argv)
    setup_logger(name="d2dense")
    loaded = load_config(args.config_file, args.opts, device=args.device)
    predictor = Predictor(loaded)
    if args.video_input:
        written = run_video(predictor, loaded.test_dataset, args)
    else:
        written = run_images(predictor, loaded.test_dataset, args)
    for path in written:
        print(path)
    return written


if __name__ == "__main__":
    main()
