"""DeFCN head: FCOS towers without centerness, plus the 3DMF branch on the regression tower."""

from typing import List

from torch import nn

from detectron2.layers import ShapeSpec

from d2dense.modeling import FCOSHead

from .max_filter import MaxFiltering3D

__all__ = ["DeFCNHead"]


class DeFCNHead(FCOSHead):
    """Two 4-conv towers (classification, regression) as FCOS, no centerness. With
    ``use_3dmf=True`` the regression tower also feeds 3DMF (Fig. 2-3) and a 3x3 conv to a 1-channel
    "filter" logit; the classification score is then ``sigmoid(cls) * sigmoid(filter)``.

    The filter branch reads the regression tower, as the public implementation does (its
    issue #12): the box features are the ones that localise the instance.

    Returns ``(logits, bbox_reg)`` or ``(logits, bbox_reg, filter_logits)``, lists over levels.
    """

    def __init__(
        self,
        *,
        input_shape: List[ShapeSpec],
        conv_dims: List[int],
        use_3dmf: bool = True,
        filter_kernel_size: int = 3,
        filter_tau: int = 2,
        filter_norm: str = "GN",
        **kwargs,
    ):
        super().__init__(
            input_shape=input_shape, conv_dims=conv_dims, use_centerness=False, **kwargs
        )
        self.use_3dmf = use_3dmf
        if use_3dmf:
            self.max_filter = MaxFiltering3D(
                conv_dims[-1], filter_kernel_size, filter_tau, filter_norm
            )
            self.filter_pred = nn.Conv2d(conv_dims[-1], 1, kernel_size=3, padding=1)
            nn.init.normal_(self.filter_pred.weight, std=0.01)
            nn.init.constant_(self.filter_pred.bias, 0)

    def forward(self, features):
        assert len(features) == self._num_features
        logits = [self.cls_score(self.cls_subnet(x)) for x in features]
        bbox_features = [self.bbox_subnet(x) for x in features]
        bbox_reg = self.scale_boxes([self.bbox_pred(x) for x in bbox_features])
        if not self.use_3dmf:
            return logits, bbox_reg
        filters = [self.filter_pred(x) for x in self.max_filter(bbox_features)]
        return logits, bbox_reg, filters
