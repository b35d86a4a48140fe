"""A DatasetMapper that turns unreadable images into a clear, logged outcome."""

import logging

from detectron2.data import DatasetMapper

logger = logging.getLogger(__name__)

__all__ = ["SafeDatasetMapper"]


class SafeDatasetMapper(DatasetMapper):
    """detectron2's ``DatasetMapper`` plus handling of missing / corrupt image files.

    Training: the image is skipped with a warning naming the file (detectron2's train loader
    draws another sample when a mapper returns None). Inference: a ``RuntimeError`` naming the
    file, because silently skipping an evaluation image would bias the metrics.
    Also drops boxes narrower or shorter than 1e-3 px after augmentation (e.g. a crop or a
    shift): detectron2's own filter only removes those below 1e-5 px, and slivers in between
    would otherwise reach the loss as near-degenerate targets.
    """

    def __call__(self, dataset_dict):
        try:
            out = super().__call__(dataset_dict)
        except (OSError, ValueError, SyntaxError) as e:
            # PIL raises OSError/UnidentifiedImageError (an OSError) for corrupt data, and
            # detectron2's check_image_size raises SizeMismatchError (a ValueError).
            msg = f"cannot use image {dataset_dict.get('file_name')}: {type(e).__name__}: {e}"
            if self.is_train:
                logger.warning("%s; skipped", msg)
                return None
            raise RuntimeError(msg) from e
        if self.is_train and "instances" in out:
            inst = out["instances"]
            out["instances"] = inst[inst.gt_boxes.nonempty(threshold=1e-3)]
        return out
