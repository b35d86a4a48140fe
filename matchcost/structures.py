"""Result and candidate-set containers shared by priors, solvers and assigners."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Tuple, Union

import torch
from torch import Tensor

__all__ = ["BACKGROUND", "IGNORE", "Candidates", "Assignment", "as_candidates"]

#: ``Assignment.labels`` value of a prediction that is a negative (background) sample.
BACKGROUND = -1
#: ``Assignment.labels`` value of a prediction that is neither positive nor negative (no loss).
IGNORE = -2


@dataclass
class Candidates:
    """Sparse candidate set (spatial prior) ``Omega``: pairs ``(gt[i], pred[i])``.

    ``gt``/``pred`` are ``(M,)`` int64 on the device of the inputs. Priors return them sorted by
    ``(gt, pred)`` without duplicates, which the solvers rely on for deterministic tie-breaking (lowest
    prediction index first). Build one from a dense ``(G, N)`` bool mask with :meth:`from_mask`.
    """

    gt: Tensor
    pred: Tensor
    num_gt: int
    num_pred: int

    @staticmethod
    def from_mask(mask: Tensor) -> "Candidates":
        if mask.dim() != 2:
            raise ValueError(f"candidate mask must be (G, N), got {tuple(mask.shape)}")
        g, p = torch.nonzero(mask.bool(), as_tuple=True)  # row-major: sorted by (gt, pred)
        return Candidates(g, p, int(mask.shape[0]), int(mask.shape[1]))

    @staticmethod
    def full(num_gt: int, num_pred: int, device=None) -> "Candidates":
        """Every pair (the "global" prior). Dense: only for small problems."""
        g = torch.arange(num_gt, device=device).repeat_interleave(num_pred)
        p = torch.arange(num_pred, device=device).repeat(num_gt)
        return Candidates(g, p, num_gt, num_pred)

    @staticmethod
    def empty(num_gt: int, num_pred: int, device=None) -> "Candidates":
        e = torch.zeros(0, dtype=torch.long, device=device)
        return Candidates(e, e.clone(), num_gt, num_pred)

    def __len__(self) -> int:
        return int(self.gt.numel())

    @property
    def device(self) -> torch.device:
        return self.gt.device

    def to_mask(self) -> Tensor:
        m = torch.zeros(self.num_gt, self.num_pred, dtype=torch.bool, device=self.gt.device)
        m[self.gt, self.pred] = True
        return m

    def select(self, keep: Tensor) -> "Candidates":
        """Sub-set of the pairs (``keep`` is a bool or index tensor over the pairs)."""
        return Candidates(self.gt[keep], self.pred[keep], self.num_gt, self.num_pred)

    def count_per_gt(self) -> Tensor:
        return torch.bincount(self.gt, minlength=self.num_gt)[: self.num_gt]

    def sorted(self) -> "Candidates":
        """Sort by ``(gt, pred)`` and drop duplicate pairs."""
        key = self.gt * max(self.num_pred, 1) + self.pred
        key = torch.unique(key)  # sorted
        n = max(self.num_pred, 1)
        return Candidates(key // n, key % n, self.num_gt, self.num_pred)


CandidatesLike = Union[Candidates, Tensor, Tuple[Tensor, Tensor], None]


def as_candidates(
    c: CandidatesLike, num_gt: int, num_pred: int, device=None
) -> Optional[Candidates]:
    """Normalise a candidate argument: ``None`` (all pairs) stays ``None``; a ``(G, N)`` bool mask or a
    ``(gt_idx, pred_idx)`` tuple becomes :class:`Candidates`."""
    if c is None or isinstance(c, Candidates):
        return c
    if isinstance(c, Tensor):
        if c.shape != (num_gt, num_pred):
            raise ValueError(f"candidate mask shape {tuple(c.shape)} != ({num_gt}, {num_pred})")
        return Candidates.from_mask(c)
    g, p = c
    return Candidates(g.long(), p.long(), num_gt, num_pred).sorted()


@dataclass
class Assignment:
    """Result of one image's label assignment.

    Attributes:
        gt_inds, pred_inds: ``(P,)`` int64, the positive pairs (``pred_inds[i]`` learns ``gt_inds[i]``).
            Sorted by gt for the one-to-one solvers; YOLOF uniform matching keeps the reference's
            rank-major pair order (and may repeat a prediction).
        labels: ``(num_pred,)`` int64, per prediction: the matched gt index, :data:`BACKGROUND` (-1) or
            :data:`IGNORE` (-2).
        num_gt, num_pred: problem size.
        num_unmatched_gt: gts that received no positive at all (to log; e.g. a gt whose prior holds no
            prediction, or that lost every candidate to other gts).
        scores: ``(P,)`` float32 quality / cost of each pair, when the rule has one (else ``None``).
        forced: ``(P,)`` bool, pairs outside the gt's prior that were kept only to reproduce the
            reference (``unmatched="reference"``); ``None`` otherwise.
        pair_valid: ``(P,)`` bool, YOLOF only: pairs that are not positive-ignored.
    """

    gt_inds: Tensor
    pred_inds: Tensor
    labels: Tensor
    num_gt: int
    num_pred: int
    num_unmatched_gt: int = 0
    scores: Optional[Tensor] = None
    forced: Optional[Tensor] = None
    pair_valid: Optional[Tensor] = None
    extra: dict = field(default_factory=dict)

    @property
    def foreground_mask(self) -> Tensor:
        return self.labels >= 0

    @property
    def num_foreground(self) -> int:
        return int((self.labels >= 0).sum())

    def matched_pred_per_gt(self) -> Tensor:
        """``(num_gt,)`` int64: the prediction matched to each gt (-1 if none). For one-to-many results
        the lowest matched prediction index is returned."""
        out = torch.full((self.num_gt,), -1, dtype=torch.long, device=self.labels.device)
        fg = torch.nonzero(self.labels >= 0, as_tuple=True)[0]
        if fg.numel():
            big = torch.full((self.num_gt,), self.num_pred, dtype=torch.long, device=out.device)
            big.scatter_reduce_(0, self.labels[fg], fg, reduce="amin", include_self=True)
            out = torch.where(big < self.num_pred, big, out)
        return out

    def class_targets(self, gt_classes: Tensor, num_classes: int) -> Tensor:
        """detectron2 convention: ``(num_pred,)`` int64 with the gt class for positives, ``num_classes``
        for background and -1 for ignored predictions."""
        lab = self.labels
        cls = torch.full_like(lab, num_classes)
        fg = lab >= 0
        if gt_classes.numel():
            cls[fg] = gt_classes.to(lab.device).long()[lab[fg]]
        cls[lab == IGNORE] = -1
        return cls

    def to(self, device) -> "Assignment":
        def mv(t):
            return None if t is None else t.to(device)

        return Assignment(
            mv(self.gt_inds),
            mv(self.pred_inds),
            mv(self.labels),
            self.num_gt,
            self.num_pred,
            self.num_unmatched_gt,
            mv(self.scores),
            mv(self.forced),
            mv(self.pair_valid),
            dict(self.extra),
        )


def labels_from_pairs(gt_inds: Tensor, pred_inds: Tensor, num_pred: int) -> Tensor:
    """Per-prediction label vector of the pairs ``(gt_inds, pred_inds)``. A prediction in several
    pairs (per-gt argmin, OneNet's "minimum cost") takes the highest gt index: a scatter-max, so
    the result is the same on every device (an indexed write with repeated indices is not ordered
    on CUDA)."""
    labels = torch.full((num_pred,), BACKGROUND, dtype=torch.long, device=gt_inds.device)
    if gt_inds.numel():
        labels.scatter_reduce_(0, pred_inds, gt_inds, reduce="amax", include_self=True)
    return labels
