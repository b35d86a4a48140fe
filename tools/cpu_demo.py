#!/usr/bin/env python
"""`make demo`: train FCOS (one-to-many) and DeFCN (POTO + 3DMF + Aux) at CPU scale on the bundled
COCO sample (person class, 32 images), evaluate both with and without NMS, print the table, and
draw predictions (w/o NMS and w/ NMS side by side) for a few images.

It uses the same entry points as users: ``train_net.py`` (through the study runner) for training and
evaluation, LazyConfig + the checkpoint for the pictures. Memorisation regime: the models are
evaluated on the images they were trained on, which isolates the duplicate-removal question.
"""

import argparse
import os
import subprocess
import sys
import time

import cv2
import numpy as np
import torch

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)


def draw(output_dir, study_root, rows, dataset, num_images):
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.config import LazyConfig, instantiate
    from detectron2.data import DatasetCatalog
    from detectron2.data import transforms as T

    import d2dense.data  # noqa: F401
    from d2dense.config import apply_scale
    from d2dense.utils import import_method_packages
    from d2dense.visualize import apply_nms, draw_instances

    sys.path.insert(0, os.path.join(REPO_ROOT, "projects"))
    from run_study import slug

    import_method_packages()
    dicts = DatasetCatalog.get(dataset)[:num_images]
    os.makedirs(output_dir, exist_ok=True)
    written = []
    for label, _config, _ in rows:
        run_dir = os.path.join(study_root, slug(label))
        cfg = LazyConfig.load(os.path.join(run_dir, "config.yaml"))
        apply_scale(cfg)
        model = instantiate(cfg.model).eval()
        DetectionCheckpointer(model).load(os.path.join(run_dir, "model_final.pth"))
        resize = T.ResizeShortestEdge(320, 533)
        for d in dicts:
            bgr = cv2.imread(d["file_name"])
            h, w = bgr.shape[:2]
            img = resize.get_transform(bgr).apply_image(bgr)
            with torch.no_grad():
                inst = model(
                    [
                        {
                            "image": torch.as_tensor(img.transpose(2, 0, 1).copy()),
                            "height": h,
                            "width": w,
                        }
                    ]
                )[0]["instances"]
            rgb = bgr[:, :, ::-1]
            panels = [
                draw_instances(rgb, inst, dataset, title=f"{label}: w/o NMS"),
                draw_instances(rgb, apply_nms(inst, 0.6), dataset, title=f"{label}: w/ NMS 0.6"),
            ]
            path = os.path.join(output_dir, f"{slug(label)}_{os.path.basename(d['file_name'])}")
            cv2.imwrite(path, np.concatenate(panels, axis=1)[:, :, ::-1])
            written.append(path)
    return written


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--output-dir", default="output/demo")
    ap.add_argument("--max-iter", type=int, default=150)
    ap.add_argument("--num-images", type=int, default=3)
    args = ap.parse_args()

    start = time.perf_counter()
    study = [
        sys.executable,
        os.path.join(REPO_ROOT, "projects", "run_study.py"),
        "demo",
        "--scale",
        "cpu",
        "--regime",
        "sample",
        "--max-iter",
        str(args.max_iter),
        "--output-dir",
        os.path.join(args.output_dir, "runs"),
    ]
    subprocess.run(study, check=True, cwd=REPO_ROOT)

    sys.path.insert(0, os.path.join(REPO_ROOT, "projects"))
    from studies import STUDIES

    pictures = draw(
        os.path.join(args.output_dir, "pictures"),
        os.path.join(args.output_dir, "runs", "demo", "sample"),
        STUDIES["demo"],
        "coco_sample_person",
        args.num_images,
    )
    print("\nPredictions drawn (left: raw outputs, right: after NMS 0.6):")
    for p in pictures:
        print("  " + p)
    print(f"\nDemo finished in {(time.perf_counter() - start) / 60:.1f} min")


if __name__ == "__main__":
    main()
