"""Property tests of the solvers against scipy on the dense matrix and against brute force."""

import itertools

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

import matchcost as mc

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


@st.composite
def sparse_problem(draw, max_g=6, max_n=8):
    G = draw(st.integers(0, max_g))
    N = draw(st.integers(1, max_n))
    seed = draw(st.integers(0, 2**31 - 1))
    density = draw(st.sampled_from([0.0, 0.15, 0.4, 0.8, 1.0]))
    ties = draw(st.booleans())
    rng = np.random.default_rng(seed)
    mask = rng.random((G, N)) < density
    if ties:
        q = rng.choice([0.0, 0.25, 0.5, 1.0], size=(G, N))  # exact ties everywhere
    else:
        q = rng.random((G, N))
    return mask, q.astype(np.float32)


def dense_value(mat, maximize=True):
    if mat.size == 0:
        return 0.0
    r, c = linear_sum_assignment(mat.astype(np.float64), maximize=maximize)
    return float(mat.astype(np.float64)[r, c].sum())


def brute_force(mat, maximize=True):
    G, N = mat.shape
    if G == 0 or N == 0:
        return 0.0
    best = -np.inf if maximize else np.inf
    if G <= N:
        for perm in itertools.permutations(range(N), G):
            v = sum(float(mat[i, perm[i]]) for i in range(G))
            best = max(best, v) if maximize else min(best, v)
    else:
        for perm in itertools.permutations(range(G), N):
            v = sum(float(mat[perm[j], j]) for j in range(N))
            best = max(best, v) if maximize else min(best, v)
    return best


def check_one_to_one(a: mc.Assignment, mask=None):
    g = a.gt_inds.tolist()
    p = a.pred_inds.tolist()
    assert len(set(g)) == len(g)
    assert len(set(p)) == len(p)
    lab = a.labels.tolist()
    for gi, pi in zip(g, p):
        assert lab[pi] == gi
    assert sum(x >= 0 for x in lab) == len(p)
    if mask is not None and a.forced is None:
        for gi, pi in zip(g, p):
            assert mask[gi, pi]


def our_value(a: mc.Assignment, G, N, outside):
    real = a.scores if a.forced is None else a.scores[~a.forced]
    n_real = real.numel()
    return float(real.double().sum()) + outside * (min(G, N) - n_real)


@settings(max_examples=300, **SETTINGS)
@given(sparse_problem())
def test_hungarian_equals_dense_scipy(prob):
    mask, q = prob
    G, N = mask.shape
    dense = np.where(mask, q, -1.0)
    ref = dense_value(dense)
    cand = mc.Candidates.from_mask(torch.from_numpy(mask))
    a = mc.hungarian(torch.from_numpy(q), cand, outside=-1.0)
    check_one_to_one(a, mask)
    assert our_value(a, G, N, -1.0) == pytest.approx(ref, abs=1e-5)
    # reference mode: forced pairs make the total equal to the dense total directly
    b = mc.hungarian(
        torch.from_numpy(q), torch.from_numpy(mask), outside=-1.0, unmatched="reference"
    )
    check_one_to_one(b)
    if b.forced.numel():
        for gi, pi in zip(b.gt_inds[b.forced].tolist(), b.pred_inds[b.forced].tolist()):
            assert not mask[gi, pi]
    assert b.num_unmatched_gt == a.num_unmatched_gt
    if b.gt_inds.numel() == min(G, N):
        assert float(b.scores.double().sum()) == pytest.approx(ref, abs=1e-5)


@settings(max_examples=120, **SETTINGS)
@given(sparse_problem(max_g=5, max_n=6))
def test_hungarian_equals_brute_force(prob):
    mask, q = prob
    G, N = mask.shape
    dense = np.where(mask, q, -1.0)
    bf = brute_force(dense)
    a = mc.hungarian(torch.from_numpy(q), torch.from_numpy(mask), outside=-1.0)
    assert our_value(a, G, N, -1.0) == pytest.approx(bf, abs=1e-5)
    assert dense_value(dense) == pytest.approx(bf, abs=1e-5)


@settings(max_examples=150, **SETTINGS)
@given(sparse_problem())
def test_hungarian_min_cost_big_outside(prob):
    # DeFCN foreground-loss style: costs, 1e8 outside the prior, minimise
    mask, q = prob
    G, N = mask.shape
    cost = (q * 7.0 - 2.0).astype(np.float32)
    dense = np.where(mask, cost, 1e8)
    ref = dense_value(dense, maximize=False)
    a = mc.hungarian(torch.from_numpy(cost), torch.from_numpy(mask), maximize=False, outside=1e8)
    check_one_to_one(a, mask)
    assert our_value(a, G, N, 1e8) == pytest.approx(ref, rel=1e-12, abs=1e-3)


@settings(max_examples=150, **SETTINGS)
@given(sparse_problem())
def test_hungarian_lexicographic(prob):
    # outside=None: maximise the number of gts with a candidate, then the total
    mask, q = prob
    G, N = mask.shape
    big = 1e4
    dense = np.where(mask, q.astype(np.float64) + big, 0.0)
    ref = dense_value(dense)
    a = mc.hungarian(torch.from_numpy(q), torch.from_numpy(mask), outside=None)
    check_one_to_one(a, mask)
    n = a.gt_inds.numel()
    assert n * big + float(a.scores.double().sum()) == pytest.approx(ref, abs=1e-4)


@settings(max_examples=150, **SETTINGS)
@given(
    st.integers(0, 7), st.integers(1, 9), st.integers(0, 2**31 - 1), st.booleans(), st.booleans()
)
def test_hungarian_dense_equals_scipy(G, N, seed, ties, maximize):
    rng = np.random.default_rng(seed)
    s = rng.choice([-1.0, 0.0, 2.0], size=(G, N)) if ties else rng.normal(size=(G, N))
    s = s.astype(np.float32)
    a = mc.hungarian(torch.from_numpy(s), None, maximize=maximize)
    check_one_to_one(a)
    assert a.gt_inds.numel() == min(G, N)
    assert float(a.scores.double().sum()) == pytest.approx(dense_value(s, maximize), abs=1e-4)


def test_hungarian_crowded_g500():
    rng = np.random.default_rng(0)
    for case in range(3):
        G, N = 500, 2500
        # overlapping windows of candidates -> one big component plus competition
        centers = rng.integers(0, N, size=G)
        width = rng.integers(2, 30, size=G)
        mask = np.zeros((G, N), dtype=bool)
        for g in range(G):
            lo, hi = max(0, centers[g] - width[g]), min(N, centers[g] + width[g])
            mask[g, lo:hi] = rng.random(hi - lo) < 0.7
        q = (
            rng.choice([0.1, 0.2, 0.5, 0.9], size=(G, N)).astype(np.float32)
            if case == 2
            else rng.random((G, N)).astype(np.float32)
        )
        ref = dense_value(np.where(mask, q, -1.0))
        cand = mc.Candidates.from_mask(torch.from_numpy(mask))
        a = mc.hungarian(torch.from_numpy(q)[cand.gt, cand.pred], cand, outside=-1.0)
        check_one_to_one(a, mask)
        assert our_value(a, G, N, -1.0) == pytest.approx(ref, abs=1e-3)


def test_hungarian_more_gts_than_candidates():
    # 4 gts compete for 2 candidate columns; 1 gt has no candidate at all
    mask = torch.zeros(5, 10, dtype=torch.bool)
    mask[0:4, 3] = True
    mask[0:4, 7] = True
    q = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.0])[:, None].expand(5, 10).contiguous()
    a = mc.hungarian(q, mask, outside=-1.0)
    assert a.pred_inds.tolist() in ([3, 7], [7, 3])
    assert a.gt_inds.tolist() == [0, 1]
    assert a.num_unmatched_gt == 3
    b = mc.hungarian(q, mask, outside=-1.0, unmatched="reference")
    assert b.gt_inds.tolist() == [0, 1, 2, 3, 4]
    # forced to the lowest-index free points that are not their candidates
    assert b.pred_inds[b.forced].tolist() == [0, 1, 2]
    assert b.labels[:3].tolist() == [2, 3, 4]


def test_hungarian_empty_and_single():
    for G, N in [(0, 5), (3, 0), (0, 0)]:
        a = mc.hungarian(torch.zeros(G, N), torch.zeros(G, N, dtype=torch.bool), outside=-1.0)
        assert a.gt_inds.numel() == 0 and a.labels.shape == (N,)
        assert a.num_unmatched_gt == G
    a = mc.hungarian(torch.tensor([[0.3], [0.7]]), torch.tensor([[True], [True]]), outside=-1.0)
    assert a.gt_inds.tolist() == [1] and a.pred_inds.tolist() == [0]


def reference_argmax(dense):
    """DeFCN argmax variant on the dense matrix: row argmax, then per column the max row wins."""
    G, N = dense.shape
    if G == 0:
        return []
    d = torch.from_numpy(dense)
    arg = d.argmax(dim=1)
    onehot = torch.full_like(d, -np.inf)
    onehot[torch.arange(G), arg] = d[torch.arange(G), arg]
    best, who = onehot.max(dim=0)
    return sorted((int(who[p]), p) for p in range(N) if best[p] > -np.inf)


@settings(max_examples=200, **SETTINGS)
@given(sparse_problem())
def test_argmax_matches_dense_reference(prob):
    mask, q = prob
    # distinct values so that the dense reference has no tie ambiguity
    G, N = mask.shape
    q = (np.random.default_rng(G * 31 + N).permutation(G * N).reshape(G, N) / max(G * N, 1)).astype(
        np.float32
    )
    dense = np.where(mask, q, -1.0).astype(np.float32)
    a = mc.argmax_assign(
        torch.from_numpy(q), torch.from_numpy(mask), outside=-1.0, unmatched="reference"
    )
    ref = reference_argmax(dense)
    assert sorted(zip(a.gt_inds.tolist(), a.pred_inds.tolist())) == ref
    d = mc.argmax_assign(torch.from_numpy(q), torch.from_numpy(mask))
    check_one_to_one(d, mask)
    assert sorted(zip(d.gt_inds.tolist(), d.pred_inds.tolist())) == [
        (g, p) for g, p in ref if mask[g, p]
    ]


def test_argmax_conflict_hand():
    q = torch.tensor([[0.9, 0.1, 0.0], [0.95, 0.5, 0.0], [0.2, 0.3, 0.4]])
    a = mc.argmax_assign(q, None)
    # gts 0 and 1 both want pred 0; gt 1 has higher Q and wins; gt 0 gets nothing
    assert list(zip(a.gt_inds.tolist(), a.pred_inds.tolist())) == [(1, 0), (2, 2)]
    assert a.num_unmatched_gt == 1
    assert a.labels.tolist() == [1, -1, 2]


@settings(max_examples=100, **SETTINGS)
@given(sparse_problem(), st.integers(1, 4), st.booleans())
def test_topk_sparse_vs_dense(prob, k, largest):
    mask, q = prob
    G, N = mask.shape
    cand = mc.Candidates.from_mask(torch.from_numpy(mask))
    g, p, s = mc.topk_per_gt(torch.from_numpy(q), k, cand, largest=largest)
    for gi in range(G):
        vals = q[gi][mask[gi]]
        exp = sorted(vals, reverse=largest)[:k]
        got = s[g == gi].tolist()
        assert got == pytest.approx(exp)
        assert all(mask[gi, pp] for pp in p[g == gi].tolist())


def test_top1_duplicates_allowed():
    cost = torch.tensor([[1.0, 0.0, 3.0], [2.0, -1.0, 0.5]])
    a = mc.top1_per_gt(cost)
    assert a.gt_inds.tolist() == [0, 1] and a.pred_inds.tolist() == [1, 1]
    # the shared prediction is labelled with the highest gt index, whatever the write order
    assert a.labels.tolist() == [-1, 1, -1]
    assert mc.labels_from_pairs(torch.tensor([2, 0, 1]), torch.tensor([0, 0, 0]), 2).tolist() == [
        2,
        -1,
    ]


def test_segment_best_ties_lowest_position():
    seg = torch.tensor([0, 0, 1, 1, 1, 3])
    v = torch.tensor([1.0, 1.0, 0.0, 2.0, 2.0, float("nan")])
    assert mc.segment_best(seg, v, 4).tolist() == [0, 3, -1, -1]
    assert mc.segment_best(seg, v, 4, largest=False).tolist() == [0, 2, -1, -1]


def test_max_weight_matching_prunes_and_splits():
    # two independent conflicting components + one free gt
    rows = np.array([0, 0, 1, 1, 2, 3, 3, 4])
    cols = np.array([0, 1, 0, 1, 5, 7, 8, 7])
    w = np.array([2.0, 1.0, 2.0, 1.5, 1.0, 1.0, 1.2, 1.9])
    r, c = mc.max_weight_matching(rows, cols, w, 5)
    got = dict(zip(r.tolist(), c.tolist()))
    assert got == {0: 0, 1: 1, 2: 5, 3: 8, 4: 7}


def test_forced_pair_is_never_one_of_the_gts_own_candidates():
    """gt1's only usable candidate (pred 0, Q 0.5) goes to gt0 (Q 0.9); its other candidate, pred
    1, has Q = outside, so it is never used. The reference mode forces gt1 onto the lowest-index
    prediction that is free and outside its prior: pred 2, not pred 1."""
    cand = mc.Candidates(torch.tensor([0, 1, 1]), torch.tensor([0, 0, 1]), 2, 3)
    a = mc.hungarian(torch.tensor([0.9, 0.5, -1.0]), cand, outside=-1.0, unmatched="reference")
    pairs = sorted(zip(a.gt_inds.tolist(), a.pred_inds.tolist(), a.forced.tolist()))
    assert pairs == [(0, 0, False), (1, 2, True)]


def test_candidates_no_better_than_outside_are_never_used():
    # minimising with outside = 1e8: a candidate costing 2e8 is worse than no match
    cand = mc.Candidates(torch.tensor([0]), torch.tensor([0]), 1, 2)
    a = mc.hungarian(torch.tensor([2e8]), cand, maximize=False, outside=1e8)
    assert a.gt_inds.numel() == 0 and a.num_unmatched_gt == 1
    b = mc.hungarian(torch.tensor([5.0]), cand, maximize=False, outside=1e8)
    assert b.pred_inds.tolist() == [0]
    # maximising with outside = -1: Q = -1 is no better than outside
    c = mc.hungarian(torch.tensor([-1.0]), cand, outside=-1.0)
    assert c.gt_inds.numel() == 0


def test_unsorted_candidates_are_sorted_before_solving():
    """Candidates built by hand in any order give the same assignment as in (gt, pred) order."""
    unsorted = mc.Candidates(torch.tensor([1, 0, 0]), torch.tensor([0, 1, 0]), 2, 2)
    scores = torch.tensor([0.8, 0.7, 0.9])  # (1,0) 0.8, (0,1) 0.7, (0,0) 0.9
    a = mc.hungarian(scores, unsorted)
    assert sorted(zip(a.gt_inds.tolist(), a.pred_inds.tolist())) == [(0, 1), (1, 0)]
    torch.testing.assert_close(a.scores.sort().values, torch.tensor([0.7, 0.8]))
    with pytest.raises(ValueError, match="duplicate"):
        mc.hungarian(
            torch.tensor([0.1, 0.2]),
            mc.Candidates(torch.tensor([0, 0]), torch.tensor([1, 1]), 1, 2),
        )


@pytest.mark.parametrize("maximize", [True, False])
def test_nan_never_wins_the_per_gt_choice(maximize):
    """As in argmax_assign (segment_best): a NaN score ranks last, dense and sparse alike."""
    score = torch.tensor([[float("nan"), 0.3, 0.6]])
    if not maximize:
        score = -score
    best = 2
    for candidates in (None, torch.ones(1, 3, dtype=torch.bool)):
        a = mc.top1_per_gt(score, candidates, maximize=maximize)
        assert a.pred_inds.tolist() == [best]
        g, p, s = mc.topk_per_gt(score, 3, candidates, largest=maximize)
        assert p.tolist() == [2, 1, 0] and torch.isnan(s[-1])
