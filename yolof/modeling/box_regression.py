"""Box coding of YOLOF: detectron2's delta coding with the centre shift limited to +-32 px."""

import math

import torch

from detectron2.modeling.box_regression import Box2BoxTransform

__all__ = ["CenterClampedBox2BoxTransform"]

_DEFAULT_SCALE_CLAMP = math.log(1000.0 / 16)


class CenterClampedBox2BoxTransform(Box2BoxTransform):
    """``Box2BoxTransform`` whose decoded centre moves at most ``ctr_clamp`` pixels from the anchor
    centre (Sec. 4.3 "Other Details": "a restriction that the centers' shift for all anchors should
    be smaller than 32 pixels"). The clamp acts on ``dx * w`` and ``dy * h`` in pixels, at training
    (matching and loss) and test time alike; ``dw`` / ``dh`` keep detectron2's upper clamp.
    Encoding (``get_deltas``) is upstream's: YOLOF never encodes, its box loss is GIoU on decoded
    boxes.
    """

    def __init__(
        self, weights=(1.0, 1.0, 1.0, 1.0), scale_clamp=_DEFAULT_SCALE_CLAMP, ctr_clamp=32.0
    ):
        super().__init__(weights=weights, scale_clamp=scale_clamp)
        self.ctr_clamp = ctr_clamp

    def apply_deltas(self, deltas, boxes):
        """``deltas`` (R, 4k) as ``(dx, dy, dw, dh)`` per box, ``boxes`` (R, 4) xyxy -> (R, 4k) xyxy."""
        deltas = deltas.float()
        boxes = boxes.to(deltas.dtype)
        widths = (boxes[:, 2] - boxes[:, 0])[:, None]
        heights = (boxes[:, 3] - boxes[:, 1])[:, None]
        ctr_x = (boxes[:, 0])[:, None] + 0.5 * widths
        ctr_y = (boxes[:, 1])[:, None] + 0.5 * heights
        wx, wy, ww, wh = self.weights
        shift_x = (deltas[:, 0::4] / wx * widths).clamp(-self.ctr_clamp, self.ctr_clamp)
        shift_y = (deltas[:, 1::4] / wy * heights).clamp(-self.ctr_clamp, self.ctr_clamp)
        dw = (deltas[:, 2::4] / ww).clamp(max=self.scale_clamp)
        dh = (deltas[:, 3::4] / wh).clamp(max=self.scale_clamp)
        pred_ctr_x = ctr_x + shift_x
        pred_ctr_y = ctr_y + shift_y
        half_w = 0.5 * widths * torch.exp(dw)
        half_h = 0.5 * heights * torch.exp(dh)
        pred = torch.stack(
            (pred_ctr_x - half_w, pred_ctr_y - half_h, pred_ctr_x + half_w, pred_ctr_y + half_h),
            dim=2,
        )
        return pred.reshape(deltas.shape)
