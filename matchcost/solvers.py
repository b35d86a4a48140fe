"""Assignment solvers on a dense score matrix or on a sparse candidate set.

Score conventions: ``score`` is either a dense ``(G, N)`` tensor (``candidates=None``: every pair is a
candidate) or a ``(M,)`` tensor aligned with :class:`~matchcost.structures.Candidates` (or a dense
``(G, N)`` tensor together with candidates/mask, from which the candidate entries are gathered).
``maximize=True`` for qualities (POTO), ``maximize=False`` for costs (DETR / OneNet / foreground loss).

Exact one-to-one (:func:`hungarian`)
------------------------------------
The reference detectors build the dense ``(G, N)`` matrix with a constant ``outside`` value at pairs
outside the prior (POTO: quality -1; DeFCN foreground loss: cost 1e8) and call
``scipy.optimize.linear_sum_assignment``. With ``w = score - outside`` (``outside - score`` when
minimising), and ``w >= 0`` on every candidate (true for POTO: Q >= 0 > -1), the dense optimum equals

    dense_opt = max_weight_matching(candidate edges, w) + min(G, N) * outside

because every matching of the candidate graph extends to a full matching of the dense matrix with
``outside`` entries (``w = 0``) and vice versa. So only the candidate sub-problem is solved:

1. each gt's best candidate; if these are all distinct, that is optimal (common case, no solver call);
2. otherwise split the candidate graph into connected components
   (``scipy.sparse.csgraph.connected_components``) and keep only each gt's ``r`` best candidates, ``r`` =
   number of gts in its component (exchange argument: at most ``r - 1`` of them can be taken by the
   other gts, so an optimal matching using only these edges exists); one pass suffices;
3. gts alone in their component take their best candidate; the remaining components are solved
   together, exactly, by ``scipy.sparse.csgraph.min_weight_full_bipartite_matching`` (LAPJVsp) on the
   sparse graph plus one private zero-weight "dummy" column per gt, so that a full matching always exists
   and a gt may end up without a candidate (its dummy) exactly when that is optimal.

A gt that ends on its dummy (no candidate at all - e.g. a box too small to contain a point - or every
candidate taken by others) is *unmatched*. The dense reference still matches it to some point outside its
prior at score ``outside`` (scipy picked the lowest-index free points) and labels that point foreground
with a regression target pointing outside the box. ``unmatched="drop"`` (default) gives such a gt no
positive and counts it in ``Assignment.num_unmatched_gt``; ``unmatched="reference"`` reproduces the
reference by matching it to the lowest-index prediction that is unused and not one of its candidates
(``Assignment.forced`` marks these pairs). Either way the optimal value is the dense optimum.

``outside=None`` means "outside the prior is infinitely bad": the matching first maximises the number
of gts that get a candidate, then the total score (lexicographic). For a dense score (every pair a
candidate) this is exactly ``linear_sum_assignment`` on the dense matrix (every gt matched if N >= G).
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, min_weight_full_bipartite_matching
from torch import Tensor

from .structures import Assignment, Candidates, CandidatesLike, as_candidates, labels_from_pairs

__all__ = [
    "segment_best",
    "max_weight_matching",
    "hungarian",
    "argmax_assign",
    "top1_per_gt",
    "topk_per_gt",
    "dense_lsa",
]

_UNMATCHED = ("drop", "reference")


# --------------------------------------------------------------------------------------------------
# small segment helpers (torch, any device)
# --------------------------------------------------------------------------------------------------
def segment_best(seg: Tensor, values: Tensor, num_segments: int, largest: bool = True) -> Tensor:
    """Position of the best value in each segment: ``(num_segments,)`` int64, -1 for empty segments.

    ``seg`` ``(M,)`` segment id of each element. Ties go to the lowest position (so with pairs sorted by
    ``(gt, pred)`` the lowest prediction / gt index wins). NaN values never win.
    """
    M = values.numel()
    out = torch.full((num_segments,), -1, dtype=torch.long, device=values.device)
    if M == 0 or num_segments == 0:
        return out
    v = values.float() if largest else -values.float()
    ok = ~torch.isnan(v)
    v = torch.where(ok, v, torch.full_like(v, -float("inf")))
    best = torch.full((num_segments,), -float("inf"), dtype=v.dtype, device=v.device)
    best.scatter_reduce_(0, seg, v, reduce="amax", include_self=True)
    pos = torch.arange(M, device=v.device)
    is_best = (v == best[seg]) & ok
    pos = torch.where(is_best, pos, torch.full_like(pos, M))
    first = torch.full((num_segments,), M, dtype=torch.long, device=v.device)
    first.scatter_reduce_(0, seg, pos, reduce="amin", include_self=True)
    return torch.where(first < M, first, out)


def _prepare(
    score: Tensor, candidates: CandidatesLike
) -> Tuple[Optional[Candidates], Tensor, int, int]:
    """Return (candidates or None, score (M,) or (G, N) float32, G, N)."""
    if candidates is None:
        if score.dim() != 2:
            raise ValueError("without candidates, score must be a dense (G, N) matrix")
        return None, score.float(), int(score.shape[0]), int(score.shape[1])
    if isinstance(candidates, Candidates):
        G, N = candidates.num_gt, candidates.num_pred
    elif isinstance(candidates, Tensor):
        G, N = int(candidates.shape[0]), int(candidates.shape[1])
    else:
        if score.dim() != 2:
            raise ValueError("pass Candidates (with sizes) or a mask when score is per-candidate")
        G, N = int(score.shape[0]), int(score.shape[1])
    cand = as_candidates(candidates, G, N)
    perm = None
    if len(cand) > 1:
        key = cand.gt * max(N, 1) + cand.pred
        if not bool(
            (key[1:] > key[:-1]).all()
        ):  # solvers rely on (gt, pred) order without duplicates
            key, perm = torch.sort(key)
            if bool((key[1:] == key[:-1]).any()):
                raise ValueError("duplicate candidate pairs")
            cand = Candidates(cand.gt[perm], cand.pred[perm], G, N)
    if score.dim() == 2:
        if tuple(score.shape) != (G, N):
            raise ValueError(f"score shape {tuple(score.shape)} != ({G}, {N})")
        s = score[cand.gt, cand.pred]
    else:
        if score.numel() != len(cand):
            raise ValueError(f"score has {score.numel()} entries for {len(cand)} candidates")
        s = score if perm is None else score[perm]
    return cand, s.float(), G, N


# --------------------------------------------------------------------------------------------------
# exact sparse core (numpy / scipy, CPU)
# --------------------------------------------------------------------------------------------------
def _compress(idx: np.ndarray, size: int):
    """Relabel the values of ``idx`` (all in ``[0, size)``) to ``0..U-1`` in increasing order without
    sorting: returns (inverse labels, sorted unique values)."""
    present = np.zeros(size, dtype=bool)
    present[idx] = True
    uniq = np.flatnonzero(present)
    cmap = np.cumsum(present) - 1
    return cmap[idx], uniq


def max_weight_matching(
    rows: np.ndarray, cols: np.ndarray, w: np.ndarray, num_rows: int, num_cols: Optional[int] = None
) -> Tuple[np.ndarray, np.ndarray]:
    """Maximum-weight (not necessarily full) bipartite matching on a sparse graph with weights ``w > 0``.

    ``rows``/``cols`` int64 edge end points (no duplicate edges), ``w`` float64. Returns the matched
    ``(rows, cols)`` sorted by row. Exact (see the module docstring for the reduction): best-candidate
    shortcut, connected components, top-r pruning of over-dense components, then LAPJVsp with one private
    zero-weight dummy column per row.
    """
    E = w.shape[0]
    if E == 0:
        e = np.zeros(0, dtype=np.int64)
        return e, e.copy()
    if E > 1 and not bool((rows[1:] >= rows[:-1]).all()):
        o = np.argsort(rows, kind="stable")
        rows, cols, w = rows[o], cols[o], w[o]
    if num_cols is None:
        num_cols = int(cols.max()) + 1
    new_row = np.empty(E, dtype=bool)
    new_row[0] = True
    np.not_equal(rows[1:], rows[:-1], out=new_row[1:])
    first = np.flatnonzero(new_row)
    counts = np.diff(np.append(first, E))
    seg = np.repeat(np.arange(first.size), counts)
    seg_max = np.maximum.reduceat(w, first)
    pos = np.where(w == seg_max[seg], np.arange(E), E)
    best_pos = np.minimum.reduceat(
        pos, first
    )  # best edge of each row; ties -> first (lowest column)
    best_r, best_c = rows[first], cols[best_pos]
    seen = np.zeros(num_cols, dtype=np.int32)
    np.add.at(seen, best_c, 1)
    if int(seen.max()) <= 1:  # no conflict: every row gets its best edge, which is optimal
        return best_r, best_c

    # connected components of the candidate graph (rows 0..num_rows-1, columns after them)
    cinv, _ = _compress(cols, num_cols)
    C = int(cinv.max()) + 1
    indptr = np.zeros(num_rows + C + 1, dtype=np.int64)
    indptr[1 : num_rows + 1] = np.cumsum(np.bincount(rows, minlength=num_rows))
    indptr[num_rows + 1 :] = E
    graph = csr_matrix(
        (np.ones(E, dtype=np.int8), num_rows + cinv, indptr), shape=(num_rows + C, num_rows + C)
    )
    ncomp, lab = connected_components(graph, directed=False)
    comp_rows = np.bincount(lab[best_r], minlength=ncomp)
    single = comp_rows[lab[best_r]] == 1
    out_r, out_c = [best_r[single]], [best_c[single]]
    multi = comp_rows[lab[rows]] > 1
    if multi.any():
        mr, mc, mw = rows[multi], cols[multi], w[multi]
        r_of = comp_rows[lab[mr]]
        # prune over-dense components: keep each row's r best edges (r = rows in its component)
        if mr.size > 4 * int((comp_rows[comp_rows > 1] ** 2).sum()):
            o = np.lexsort((mc, -mw, mr))
            mr, mc, mw, r_of = mr[o], mc[o], mw[o], r_of[o]
            nr_ = np.empty(mr.size, dtype=bool)
            nr_[0] = True
            np.not_equal(mr[1:], mr[:-1], out=nr_[1:])
            f2 = np.flatnonzero(nr_)
            rank = np.arange(mr.size) - np.repeat(f2, np.diff(np.append(f2, mr.size)))
            keep = rank < r_of
            mr, mc, mw = mr[keep], mc[keep], mw[keep]
        rinv, urows = _compress(mr, num_rows)
        cinv2, ucols = _compress(mc, num_cols)
        nr, nc = urows.size, ucols.size
        big = float(mw.max()) + 1.0
        data = np.concatenate([big - mw, np.full(nr, big)])
        ri = np.concatenate([rinv, np.arange(nr)])
        ci = np.concatenate([cinv2, nc + np.arange(nr)])  # private dummy column per row
        g2 = csr_matrix((data, (ri, ci)), shape=(nr, nc + nr))
        sr, sc = min_weight_full_bipartite_matching(g2)
        real = sc < nc
        out_r.append(urows[sr[real]])
        out_c.append(ucols[sc[real]])
    rr = np.concatenate(out_r)
    cc = np.concatenate(out_c)
    o = np.argsort(rr, kind="stable")
    return rr[o], cc[o]


def dense_lsa(score: Tensor, maximize: bool = True) -> Tuple[Tensor, Tensor]:
    """Plain ``scipy.optimize.linear_sum_assignment`` on a dense matrix (reference / baseline)."""
    if score.numel() == 0:
        e = torch.zeros(0, dtype=torch.long, device=score.device)
        return e, e.clone()
    r, c = linear_sum_assignment(score.detach().float().cpu().numpy(), maximize=maximize)
    return torch.as_tensor(r, device=score.device), torch.as_tensor(c, device=score.device)


def _force_unmatched(
    gts: np.ndarray, used: np.ndarray, cand_g: np.ndarray, cand_p: np.ndarray, N: int
):
    """For each gt in ``gts`` (ascending), the lowest-index prediction that is unused and not one of its
    candidates (reference behaviour of the dense scipy solve). Returns (gts, preds) that could be forced.
    """
    used_set = set(used.tolist())
    out_g, out_p = [], []
    # candidate sets of the forced gts only (usually none or a few)
    if cand_g.size:
        sel = np.isin(cand_g, gts)
        own = {}
        for g, p in zip(cand_g[sel].tolist(), cand_p[sel].tolist()):
            own.setdefault(g, set()).add(p)
    else:
        own = {}
    for g in gts.tolist():
        mine = own.get(g, ())
        p = 0
        while p < N and (p in used_set or p in mine):
            p += 1
        if p < N:
            used_set.add(p)
            out_g.append(g)
            out_p.append(p)
    return np.asarray(out_g, dtype=np.int64), np.asarray(out_p, dtype=np.int64)


@torch.no_grad()
def hungarian(
    score: Tensor,
    candidates: CandidatesLike = None,
    *,
    maximize: bool = True,
    outside: Optional[float] = None,
    unmatched: str = "drop",
) -> Assignment:
    """Exact optimal one-to-one assignment (each gt at most one prediction, each prediction at most one gt).

    Args:
        score: dense ``(G, N)`` or per-candidate ``(M,)`` quality (``maximize=True``) or cost.
        candidates: ``None`` (all pairs), a ``(G, N)`` bool mask, or :class:`Candidates` (the prior).
        outside: score of a pair outside the prior in the equivalent dense problem (POTO reference: -1;
            DeFCN foreground-loss reference: 1e8 with ``maximize=False``). ``None``: infinitely bad
            (maximise the number of gts with a candidate first). Candidates no better than ``outside``
            are never used.
        unmatched: ``"drop"`` or ``"reference"`` (see module docstring).

    Returns:
        :class:`Assignment`; its total score equals the optimum of ``linear_sum_assignment`` on the dense
        matrix (plus ``outside`` per gt left without a candidate). Runs on CPU for the sparse core only
        (``M`` pairs are transferred); the result lives on the input device.
    """
    if unmatched not in _UNMATCHED:
        raise ValueError(f"unmatched must be one of {_UNMATCHED}")
    cand, s, G, N = _prepare(score, candidates)
    device = s.device
    if cand is None:
        # dense: prune each row to its top-min(G, N) entries on the device (exchange argument), then
        # solve sparse. Lexicographic (every gt matched when N >= G), i.e. exactly dense LSA.
        k = min(G, N)
        if G == 0 or N == 0:
            cand = Candidates.empty(G, N, device)
            s = s.new_zeros(0)
        else:
            vals, idx = torch.topk(s if maximize else -s, k, dim=1)
            g = torch.arange(G, device=device).repeat_interleave(k)
            p = idx.reshape(-1)
            o = torch.argsort(g * N + p)
            cand = Candidates(g[o], p[o], G, N)
            s = (vals.reshape(-1) if maximize else -vals.reshape(-1))[o]
        outside = None
    s64 = s.detach().to("cpu", torch.float64).numpy()
    g_np = cand.gt.detach().cpu().numpy().astype(np.int64, copy=False)
    p_np = cand.pred.detach().cpu().numpy().astype(np.int64, copy=False)
    signed = s64 if maximize else -s64
    valid = np.isfinite(signed)
    if outside is None:
        if valid.any():
            lo, hi = signed[valid].min(), signed[valid].max()
            spread = hi - lo
            base = spread * max(min(G, N), 1) + 1.0
            w = base + (signed - lo)
        else:
            w = signed
    else:
        w = signed - (outside if maximize else -outside)
        valid &= w > 0
    rows, cols = g_np[valid], p_np[valid]
    mr, mc = max_weight_matching(rows, cols, w[valid], G, N)
    forced_g = np.zeros(0, dtype=np.int64)
    forced_p = np.zeros(0, dtype=np.int64)
    unmatched_rows = np.setdiff1d(np.arange(G), mr, assume_unique=False)
    if unmatched == "reference" and unmatched_rows.size:
        forced_g, forced_p = _force_unmatched(
            unmatched_rows[: max(N - mr.size, 0)], mc, g_np, p_np, N
        )
    # score of the matched pairs (look up in candidate order)
    if mr.size:
        key_c = g_np * max(N, 1) + p_np
        key_m = mr * max(N, 1) + mc
        pos = np.searchsorted(key_c, key_m)  # candidates are sorted by (gt, pred)
        pair_s = torch.as_tensor(s64[pos], dtype=torch.float32)
    else:
        pair_s = torch.zeros(0)
    all_g = np.concatenate([mr, forced_g])
    all_p = np.concatenate([mc, forced_p])
    forced = np.concatenate([np.zeros(mr.size, dtype=bool), np.ones(forced_g.size, dtype=bool)])
    o = np.argsort(all_g, kind="stable")
    gt_inds = torch.as_tensor(all_g[o], device=device)
    pred_inds = torch.as_tensor(all_p[o], device=device)
    fill = float("nan") if outside is None else float(outside)
    scores = torch.cat([pair_s, torch.full((forced_g.size,), fill)])[
        torch.as_tensor(o, dtype=torch.long)
    ].to(device)
    return Assignment(
        gt_inds=gt_inds,
        pred_inds=pred_inds,
        labels=labels_from_pairs(gt_inds, pred_inds, N),
        num_gt=G,
        num_pred=N,
        num_unmatched_gt=int(G - mr.size),
        scores=scores,
        forced=torch.as_tensor(forced[o], device=device) if unmatched == "reference" else None,
    )


@torch.no_grad()
def argmax_assign(
    score: Tensor,
    candidates: CandidatesLike = None,
    *,
    maximize: bool = True,
    outside: Optional[float] = None,
    unmatched: str = "drop",
) -> Assignment:
    """DeFCN "argmax" solver: each gt takes its best candidate; a prediction chosen by several gts goes to
    the one with the best score (ties: lowest gt index); the losers get nothing. Pure torch, on device.

    ``unmatched="reference"`` (needs a finite ``outside``) reproduces the dense reference for a gt without
    any candidate: its row is all ``outside``, so it picks prediction 0 with score ``outside`` and competes
    for it (it loses against any real candidate).
    """
    if unmatched not in _UNMATCHED:
        raise ValueError(f"unmatched must be one of {_UNMATCHED}")
    cand, s, G, N = _prepare(score, candidates)
    if cand is None:
        if G == 0 or N == 0:
            cand, s = Candidates.empty(G, N, s.device), s.new_zeros(0)
        else:
            idx = s.argmax(dim=1) if maximize else s.argmin(dim=1)
            g = torch.arange(G, device=s.device)
            cand = Candidates(g, idx, G, N)
            s = s[g, idx]
    device = s.device
    best = segment_best(cand.gt, s, G, largest=maximize)
    has = best >= 0
    g = torch.nonzero(has, as_tuple=True)[0]
    p = cand.pred[best[g]]
    sc = s[best[g]]
    forced = torch.zeros_like(g, dtype=torch.bool)
    if unmatched == "reference" and N > 0:
        if outside is None:
            raise ValueError('unmatched="reference" needs a finite outside score')
        lost = torch.nonzero(~has, as_tuple=True)[0]
        if lost.numel():
            g = torch.cat([g, lost])
            p = torch.cat([p, torch.zeros_like(lost)])
            sc = torch.cat([sc, torch.full((lost.numel(),), float(outside), device=device)])
            forced = torch.cat([forced, torch.ones_like(lost, dtype=torch.bool)])
            o = torch.argsort(g)
            g, p, sc, forced = g[o], p[o], sc[o], forced[o]
    win = segment_best(p, sc, N, largest=maximize)
    keep = win[win >= 0]
    keep, _ = torch.sort(keep)
    g, p, sc, forced = g[keep], p[keep], sc[keep], forced[keep]
    return Assignment(
        gt_inds=g,
        pred_inds=p,
        labels=labels_from_pairs(g, p, N),
        num_gt=G,
        num_pred=N,
        num_unmatched_gt=int(G - int((~forced).sum())),
        scores=sc,
        forced=forced if unmatched == "reference" else None,
    )


@torch.no_grad()
def topk_per_gt(
    score: Tensor, k: int, candidates: CandidatesLike = None, *, largest: bool = True
) -> Tuple[Tensor, Tensor, Tensor]:
    """The ``k`` best candidates of every gt (duplicates across gts allowed).

    Returns ``(gt_inds, pred_inds, scores)``, gt-major with rank order inside a gt (a gt with fewer
    than ``k`` candidates gets all of them). Dense input uses ``torch.topk`` (its tie order); sparse input
    breaks ties by lowest prediction index. NaN ranks last, as in :func:`segment_best` (torch's sorts
    would put it first).
    """
    cand, s, G, N = _prepare(score, candidates)
    device = s.device
    if cand is None:
        kk = min(k, N)
        if G == 0 or kk == 0:
            e = torch.zeros(0, dtype=torch.long, device=device)
            return e, e.clone(), s.new_zeros(0)
        worst = -float("inf") if largest else float("inf")
        ranked = torch.where(torch.isnan(s), torch.full_like(s, worst), s)
        idx = torch.topk(ranked, kk, dim=1, largest=largest).indices
        g = torch.arange(G, device=device).repeat_interleave(kk)
        return g, idx.reshape(-1), s.gather(1, idx).reshape(-1)
    if len(cand) == 0:
        return cand.gt, cand.pred, s
    key = s if largest else -s
    key = torch.where(torch.isnan(key), torch.full_like(key, -float("inf")), key)
    o1 = torch.argsort(key, descending=True, stable=True)
    o2 = torch.argsort(cand.gt[o1], stable=True)
    o = o1[o2]
    g = cand.gt[o]
    counts = torch.bincount(g, minlength=G)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(g.numel(), device=device) - starts[g]
    keep = o[rank < k]
    return cand.gt[keep], cand.pred[keep], s[keep]


@torch.no_grad()
def top1_per_gt(
    score: Tensor, candidates: CandidatesLike = None, *, maximize: bool = False
) -> Assignment:
    """Each gt takes its best prediction independently (OneNet "minimum cost": ``argmin`` over
    predictions, two gts may take the same prediction). ``labels`` keeps the highest gt index for a
    shared prediction (deterministically, see :func:`labels_from_pairs`) - use ``gt_inds`` /
    ``pred_inds`` for the loss, as OneNet does."""
    g, p, sc = topk_per_gt(score, 1, candidates, largest=maximize)
    if candidates is None:
        G, N = int(score.shape[0]), int(score.shape[1])
    else:
        c = (
            candidates
            if isinstance(candidates, Candidates)
            else as_candidates(candidates, *score.shape)
        )
        G, N = c.num_gt, c.num_pred
    return Assignment(
        gt_inds=g,
        pred_inds=p,
        labels=labels_from_pairs(g, p, N),
        num_gt=G,
        num_pred=N,
        num_unmatched_gt=int(G - g.numel()),
        scores=sc,
    )
