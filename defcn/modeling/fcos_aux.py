"""FCOS + Aux (DeFCN Table 5, row 2): vanilla FCOS, centerness included, plus DeFCN's auxiliary
one-to-many loss (Sec. 3.2.3). The paper adds the loss to its FCOS baseline to show that the extra
supervision alone does not remove duplicates (18.9 / 41.3 AP w/o / w/ NMS vs FCOS's 19.0 / 40.9).

Everything of FCOS (assignment, losses, centerness, inference) is :class:`d2dense.modeling.FCOS`;
this class only adds the auxiliary term, computed exactly as in :class:`DeFCN`.
"""

import torch

from detectron2.config import configurable
from detectron2.layers import cat
from detectron2.modeling import META_ARCH_REGISTRY
from detectron2.structures import Boxes

from d2dense.modeling import FCOS

from .assignment import DeFCNAssigner
from .defcn import auxiliary_class_targets, auxiliary_focal_loss

__all__ = ["FCOSAux"]


@META_ARCH_REGISTRY.register()
class FCOSAux(FCOS):
    """:class:`d2dense.modeling.FCOS` trained with DeFCN's auxiliary loss added to its own."""

    @configurable
    def __init__(
        self,
        *,
        aux_alpha: float = 0.8,
        aux_quality: str = "mul",
        aux_topk: int = 9,
        aux_loss_weight: float = 1.0,
        **kwargs,
    ):
        """
        Args:
            aux_alpha, aux_quality, aux_topk: the auxiliary rule's quality
                ``sigmoid(cls)^(1-alpha) * IoU^alpha`` ("mul", Eq. 4; or "add") and its candidates
                per level, as ``model.assigner.{alpha, quality, aux_topk}`` of DeFCN.
            aux_loss_weight: weight of the auxiliary loss (must be > 0: without it this is FCOS).
            Other arguments as :class:`d2dense.modeling.FCOS`.
        """
        super().__init__(**kwargs)
        if not aux_loss_weight > 0:
            raise ValueError(
                f"FCOSAux: aux_loss_weight must be > 0 (got {aux_loss_weight}); for FCOS without "
                "the auxiliary loss use d2dense.modeling.FCOS"
            )
        # only its auxiliary rule is used: the main loss keeps FCOS's own assignment
        self.aux_assigner = DeFCNAssigner(alpha=aux_alpha, quality=aux_quality, aux_topk=aux_topk)
        self.aux_loss_weight = aux_loss_weight

    @classmethod
    def from_config(cls, cfg):
        # FCOS from MODEL.FCOS, the auxiliary rule from MODEL.DEFCN (add_defcn_config)
        c = cfg.MODEL.DEFCN
        return {
            **FCOS.from_config(cfg),
            "aux_alpha": c.POTO_ALPHA,
            "aux_quality": c.QUALITY,
            "aux_topk": c.AUX_TOPK,
            "aux_loss_weight": c.AUX_LOSS_WEIGHT,
        }

    def forward_training(self, images, features, predictions, gt_instances):
        losses = super().forward_training(images, features, predictions, gt_instances)
        pred_logits, pred_deltas, _ = self._split_predictions(predictions)
        logits = cat(pred_logits, dim=1)  # (N, R, K)
        deltas = cat(pred_deltas, dim=1)  # (N, R, 4)
        anchors = self.anchor_generator(features)
        anchors_all = Boxes.cat(anchors)
        points = anchors_all.get_centers()
        num_points_per_level = [len(a) for a in anchors]
        with torch.no_grad():
            aux_classes = [
                auxiliary_class_targets(
                    self.aux_assigner,
                    points,
                    num_points_per_level,
                    logits[i],
                    self.box2box_transform.apply_deltas(deltas[i], anchors_all.tensor),
                    inst,
                )
                for i, inst in enumerate(gt_instances)
            ]
        losses["loss_fcos_aux_cls"] = self.aux_loss_weight * auxiliary_focal_loss(
            self, logits, aux_classes
        )
        return losses
