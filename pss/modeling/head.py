"""The FCOS / ATSS head with the positive sample selector (PSS) branch of Fig. 1."""

from typing import List

import torch
from torch import nn

from detectron2.layers import ShapeSpec, get_norm

from d2dense.modeling import FCOSHead

__all__ = ["PSSHead", "PSS_BRANCHES"]

PSS_BRANCHES = ("regression", "classification")


class PSSHead(FCOSHead):
    """FCOS towers (classification, regression; centerness on the regression tower) plus the PSS
    branch: ``pss_num_convs`` 3x3 conv-norm-ReLU layers as wide as the towers and a 3x3 conv to one
    channel, shared across levels (Sec. 3, Fig. 1). ATSS uses the same head: with one anchor per
    location its network is FCOS's (ATSS paper, Sec. 3), only the box parameterisation differs.

    Args:
        pss_num_convs: conv layers of the PSS branch before its predictor (2; Table 5: 1 / 2 / 3).
        pss_branch: tower whose output feeds the PSS branch, ``"regression"`` (the paper) or
            ``"classification"`` (Table 4).
        pss_norm: normalisation of the PSS convs. The paper does not say; "GN" follows the towers.
        pss_stop_grad: detach the PSS branch input (Fig. 1 "Stop-grad", Sec. 3.4-3.5, Table 2), so
            the PSS losses cannot reach the towers, the FPN or the backbone through this feature.

    ``forward`` returns ``(logits, bbox_reg, ctrness, pss_logits)``, or ``(logits, bbox_reg,
    pss_logits)`` without the centerness branch (Table 6); lists over levels of ``(N, C, H, W)``.
    """

    def __init__(
        self,
        *,
        input_shape: List[ShapeSpec],
        conv_dims: List[int],
        pss_num_convs: int = 2,
        pss_branch: str = "regression",
        pss_norm: str = "GN",
        pss_stop_grad: bool = True,
        **kwargs,
    ):
        super().__init__(input_shape=input_shape, conv_dims=conv_dims, **kwargs)
        if pss_branch not in PSS_BRANCHES:
            raise ValueError(f"pss_branch={pss_branch!r} is not one of {PSS_BRANCHES}")
        if pss_num_convs < 1:
            raise ValueError(f"pss_num_convs must be >= 1, got {pss_num_convs}")
        self.pss_branch = pss_branch
        self.pss_stop_grad = pss_stop_grad
        width = conv_dims[-1]
        layers = []
        for _ in range(pss_num_convs):
            layers.append(nn.Conv2d(width, width, kernel_size=3, stride=1, padding=1))
            if pss_norm:
                layers.append(get_norm(pss_norm, width))
            layers.append(nn.ReLU())
        self.pss_subnet = nn.Sequential(*layers)
        self.pss_pred = nn.Conv2d(width, 1, kernel_size=3, stride=1, padding=1)
        # Same initialisation as the towers. The predictor bias is 0, i.e. sigma(pss) = 0.5 at the
        # start: the selector begins neutral and P-hat starts as half the FCOS score.
        for layer in [*self.pss_subnet.modules(), self.pss_pred]:
            if isinstance(layer, nn.Conv2d):
                nn.init.normal_(layer.weight, mean=0, std=0.01)
                nn.init.constant_(layer.bias, 0)

    def pss_parameters(self):
        """Parameters of the PSS branch (``theta_pss`` of Sec. 3.5); the rest is ``theta_fcos``."""
        return [*self.pss_subnet.parameters(), *self.pss_pred.parameters()]

    def forward(self, features: List[torch.Tensor]):
        assert len(features) == self._num_features
        logits, bbox_reg, ctrness, pss_logits = [], [], [], []
        for feature in features:
            cls_feature = self.cls_subnet(feature)
            bbox_feature = self.bbox_subnet(feature)
            logits.append(self.cls_score(cls_feature))
            bbox_reg.append(self.bbox_pred(bbox_feature))
            if self.use_centerness:
                ctrness.append(self.ctrness(bbox_feature))
            pss_input = bbox_feature if self.pss_branch == "regression" else cls_feature
            if self.pss_stop_grad:
                pss_input = pss_input.detach()
            pss_logits.append(self.pss_pred(self.pss_subnet(pss_input)))
        bbox_reg = self.scale_boxes(bbox_reg)
        if self.use_centerness:
            return logits, bbox_reg, ctrness, pss_logits
        return logits, bbox_reg, pss_logits
