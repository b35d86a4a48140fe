"""Random shift augmentation of YOLOF (Sec. 4.3 "Other Details")."""

import numpy as np

from detectron2.data.transforms import Augmentation, NoOpTransform
from fvcore.transforms.transform import Transform

__all__ = ["RandomShift", "ShiftTransform"]


class ShiftTransform(Transform):
    """Translate the image content by ``(dx, dy)`` pixels inside a canvas of the same size; pixels
    shifted in from outside are ``fill``. Boxes move with the content and are clipped to the
    image, so a box shifted (partly) out keeps only its visible part (an empty box is then dropped
    by detectron2's ``filter_empty_instances``)."""

    def __init__(self, dx: int, dy: int, height: int, width: int, fill: float = 0):
        super().__init__()
        self._set_attributes(locals())

    @staticmethod
    def _overlap(shift: int, size: int):
        """Source and destination slices of the content that stays on a canvas of ``size`` pixels;
        both empty when ``|shift| >= size`` (a side shorter than the shift leaves only fill)."""
        kept = max(0, size - abs(shift))
        src = max(0, -shift)
        dst = max(0, shift)
        return slice(src, src + kept), slice(dst, dst + kept)

    def _shift(self, img: np.ndarray, fill) -> np.ndarray:
        out = np.full_like(img, fill)
        src_x, dst_x = self._overlap(self.dx, self.width)
        src_y, dst_y = self._overlap(self.dy, self.height)
        out[dst_y, dst_x] = img[src_y, src_x]
        return out

    def apply_image(self, img: np.ndarray) -> np.ndarray:
        return self._shift(img, self.fill)

    def apply_segmentation(self, segmentation: np.ndarray) -> np.ndarray:
        return self._shift(segmentation, 0)

    def apply_coords(self, coords: np.ndarray) -> np.ndarray:
        coords = np.asarray(coords, dtype=np.float32).copy()
        coords[:, 0] += self.dx
        coords[:, 1] += self.dy
        return coords

    def apply_box(self, box: np.ndarray) -> np.ndarray:
        box = super().apply_box(box)
        box[:, 0::2] = box[:, 0::2].clip(0, self.width)
        box[:, 1::2] = box[:, 1::2].clip(0, self.height)
        return box

    def inverse(self) -> Transform:
        return ShiftTransform(-self.dx, -self.dy, self.height, self.width, self.fill)


class RandomShift(Augmentation):
    """With probability ``prob``, shift the image by ``dx, dy`` drawn uniformly from
    ``[-max_shift, max_shift]`` (integers), i.e. at most 32 px "in left, right, top, and bottom
    directions" (Sec. 4.3): it injects noise into object positions so that gts meet high-quality
    anchors of the sparse grid more often. Used last in the training pipeline (after resize and
    flip), as in the public implementation."""

    def __init__(self, max_shift: int = 32, prob: float = 0.5):
        super().__init__()
        if max_shift < 0 or not 0.0 <= prob <= 1.0:
            raise ValueError(
                f"RandomShift: need max_shift >= 0 and 0 <= prob <= 1, got {max_shift}, {prob}"
            )
        self._init(locals())

    def get_transform(self, image):
        if self._rand_range() >= self.prob:
            return NoOpTransform()
        h, w = image.shape[:2]
        dx, dy = np.random.randint(-self.max_shift, self.max_shift + 1, size=2)
        return ShiftTransform(int(dx), int(dy), h, w)
