"""Drawing predictions with detectron2's Visualizer (used by the demos)."""

from typing import Optional

import numpy as np
import torch

from detectron2.data import MetadataCatalog
from detectron2.layers import batched_nms
from detectron2.utils.visualizer import Visualizer

__all__ = ["draw_instances", "apply_nms"]


def apply_nms(instances, nms_thresh: float):
    """Class-aware NMS on an ``Instances`` of one image (for showing the "w/ NMS" picture)."""
    keep = batched_nms(
        instances.pred_boxes.tensor, instances.scores, instances.pred_classes, nms_thresh
    )
    return instances[keep]


def draw_instances(
    image_rgb: np.ndarray,
    instances,
    metadata_name: Optional[str] = None,
    score_thresh: float = 0.3,
    title: Optional[str] = None,
) -> np.ndarray:
    """Boxes with class names and scores above ``score_thresh``; returns an RGB array."""
    instances = instances.to(torch.device("cpu"))
    instances = instances[instances.scores >= score_thresh]
    meta = MetadataCatalog.get(metadata_name) if metadata_name else None
    vis = Visualizer(image_rgb, meta, scale=1.0)
    out = vis.draw_instance_predictions(instances)
    if title:
        out = vis.draw_text(
            title, (5, 5), horizontal_alignment="left", font_size=12, color="yellow"
        )
    return out.get_image()
