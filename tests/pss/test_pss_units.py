"""PSS pieces against hand-computed values, brute force and the paper's equations."""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from fvcore.nn import sigmoid_focal_loss_jit

from detectron2.structures import Boxes
from detectron2.utils.events import EventStorage

from helpers import build_model, make_instances
from d2dense.modeling import focal_loss_from_log_probs
from matchcost import Assignment, Candidates
from pss.modeling import (
    centerness_targets,
    pss_log_scores,
    ranking_loss,
    ranking_negative_scores,
)

FCOS_PSS_CONFIG = "PSS/fcos_pss_R_50_FPN_3x.py"


def sigmoid_inverse(p):
    return math.log(p / (1 - p))


# ------------------------------------------------------------------------------------ P-hat
def test_pss_score_is_the_product_of_three_sigmoids():
    # Eq. 4 with sigma(pss) = 0.75, sigma(s) = (0.5, 0.2), sigma(ctr) = 0.25
    pss = torch.tensor([[math.log(3.0)]])
    cls = torch.tensor([[0.0, sigmoid_inverse(0.2)]])
    ctr = torch.tensor([[-math.log(3.0)]])
    scores = pss_log_scores(pss, cls, ctr).exp()
    torch.testing.assert_close(scores, torch.tensor([[0.75 * 0.5 * 0.25, 0.75 * 0.2 * 0.25]]))
    # without the centerness branch (Table 6) the factor is dropped
    torch.testing.assert_close(pss_log_scores(pss, cls, None).exp(), torch.tensor([[0.375, 0.15]]))


def test_pss_log_score_stays_finite_where_the_product_underflows():
    very_negative = torch.full((1, 1), -40.0)
    log_score = pss_log_scores(very_negative, torch.full((1, 1), -40.0), very_negative)
    torch.testing.assert_close(log_score, torch.tensor([[-120.0]]))  # e^-120 is 0 in float32


# ------------------------------------------------------------------------------------ L_pss
def test_focal_loss_from_log_probs_hand_values():
    log_p = torch.log(torch.tensor([0.5, 0.5, 0.1]))
    targets = torch.tensor([1.0, 0.0, 0.0])
    # positive p=0.5: 0.25 * 0.5^2 * log 2; negatives: 0.75 * 0.5^2 * log 2 and 0.75 * 0.1^2 * -log 0.9
    expected = 0.25 * 0.25 * math.log(2) + 0.75 * 0.25 * math.log(2) - 0.75 * 0.01 * math.log(0.9)
    assert focal_loss_from_log_probs(log_p, targets).item() == pytest.approx(expected, rel=1e-5)


def test_focal_loss_from_log_probs_equals_fvcore_on_a_single_logit():
    torch.manual_seed(0)
    logits = torch.randn(50, 7) * 3
    targets = (torch.rand(50, 7) < 0.1).float()
    got = focal_loss_from_log_probs(F.logsigmoid(logits), targets)
    want = sigmoid_focal_loss_jit(logits, targets, alpha=0.25, gamma=2.0, reduction="sum")
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------------------------ L_rank
def brute_force_ranking_loss(pos, neg, margin):
    terms = [max(0.0, margin - p + n) for p in pos for n in neg]
    return sum(terms) / (len(pos) * len(neg))


def test_ranking_loss_hand_value():
    # pairs (0.9, .6) -> .2, (0.4, .6) -> .7, (0.4, .1) -> .2, (0.4, .3) -> .4, others 0: 1.5 / 6
    pos, neg = torch.tensor([0.9, 0.4]), torch.tensor([0.6, 0.1, 0.3])
    assert ranking_loss(pos, neg, margin=0.5).item() == pytest.approx(0.25)


def test_ranking_loss_brute_force_and_empty_sides():
    torch.manual_seed(0)
    pos, neg = torch.rand(5), torch.rand(9)
    want = brute_force_ranking_loss(pos.tolist(), neg.tolist(), 0.5)
    assert ranking_loss(pos, neg, 0.5).item() == pytest.approx(want, rel=1e-6)
    assert ranking_loss(pos, neg[:0], 0.5).item() == 0.0
    assert ranking_loss(pos[:0], neg, 0.5).item() == 0.0


def test_ranking_negatives_top_n_of_the_non_positives():
    scores = torch.tensor([[0.9, 0.1], [0.2, 0.7], [0.3, 0.4], [0.05, 0.6], [0.5, 0.55]])
    positive = torch.tensor([True, False, False, False, False])
    # max_class: locations 1-4 score 0.7, 0.4, 0.6, 0.55; the positive's 0.9 never counts
    torch.testing.assert_close(
        ranking_negative_scores(scores, positive, 2), torch.tensor([0.7, 0.6])
    )
    torch.testing.assert_close(
        ranking_negative_scores(scores, positive, 100), torch.tensor([0.7, 0.6, 0.55, 0.4])
    )
    # all_classes: every (location, class) of the negatives competes
    torch.testing.assert_close(
        ranking_negative_scores(scores, positive, 3, mode="all_classes"),
        torch.tensor([0.7, 0.6, 0.55]),
    )


# ------------------------------------------------------------------------------------ L_fcos
def test_centerness_target_hand_value():
    # point (5, 5) in box (0, 0, 10, 20): l = r = 5, t = 5, b = 15 -> sqrt(1 * 5 / 15)
    got = centerness_targets(torch.tensor([[5.0, 5.0]]), torch.tensor([[0.0, 0.0, 10.0, 20.0]]))
    torch.testing.assert_close(got, torch.tensor([math.sqrt(1 / 3)]))


# ------------------------------------------------------------------------------------ labels
@pytest.fixture(scope="module")
def fcos_pss():
    return build_model(FCOS_PSS_CONFIG)


def one_to_one_case(model):
    """Six locations, two gts (class 0: (0, 0, 10, 10); class 1: (0, 0, 10, 20)), Omega_0 = {0, 1, 2},
    Omega_1 = {2, 3}. Predicted boxes: locations 0 and 2 are gt 0's box (IoU 1 with gt 0, 0.5 with
    gt 1), location 3 is gt 1's box, the rest are far away. Returns the inputs of label_one_to_one
    and the hand-computed quality Q = P^0.2 IoU^0.8 (Eq. 3) of every pair in Omega."""
    anchors = [Boxes(torch.tensor([[2.0, 2.0, 10.0, 10.0]] * 6))]
    boxes = torch.tensor(
        [
            [0, 0, 10, 10],
            [50, 50, 60, 60],
            [0, 0, 10, 10],
            [0, 0, 10, 20],
            [50, 50, 60, 60],
            [50, 50, 60, 60],
        ],
        dtype=torch.float32,
    )
    deltas = model.box2box_transform.get_deltas(anchors[0].tensor, boxes)[None]
    scores = torch.full((1, 6, 2), 0.01)
    scores[0, 0, 0], scores[0, 2, 0], scores[0, 2, 1], scores[0, 3, 1] = 0.5, 0.9, 0.9, 0.01
    omega = Candidates.from_mask(
        torch.tensor([[1, 1, 1, 0, 0, 0], [0, 0, 1, 1, 0, 0]], dtype=torch.bool)
    )
    gt = make_instances(20, 20, [[0, 0, 10, 10], [0, 0, 10, 20]], [0, 1])
    quality = {
        (0, 0): 0.5**0.2,
        (0, 1): 0.0,  # no overlap
        (0, 2): 0.9**0.2,
        (1, 2): 0.9**0.2 * 0.5**0.8,
        (1, 3): 0.01**0.2,
    }
    return anchors, scores, deltas, [omega], [gt], quality


def brute_force_best_matching(quality, num_gt):
    """Max total quality over one-to-one maps gt -> location inside Omega (every gt matched)."""
    options = [[loc for (g, loc) in quality if g == j] for j in range(num_gt)]
    best = max(
        (combo for combo in itertools.product(*options) if len(set(combo)) == num_gt),
        key=lambda combo: sum(quality[(j, loc)] for j, loc in enumerate(combo)),
    )
    return list(best)


def test_one_to_one_labels_hungarian_equals_brute_force(fcos_pss):
    anchors, scores, deltas, omegas, gts, quality = one_to_one_case(fcos_pss)
    # Greedy would give location 2 to gt 0 (0.979 > 0.870) and gt 1 location 3: total 1.377.
    # Eq. 3's maximum is gt 0 -> 0 and gt 1 -> 2: 0.870 + 0.562 = 1.433.
    assert brute_force_best_matching(quality, 2) == [0, 2]
    with EventStorage():
        (assignment,) = fcos_pss.label_one_to_one(anchors, scores, deltas, omegas, gts)
    assert assignment.labels.tolist() == [0, -1, 1, -1, -1, -1]
    torch.testing.assert_close(assignment.scores, torch.tensor([quality[(0, 0)], quality[(1, 2)]]))
    targets = assignment.class_targets(gts[0].gt_classes, fcos_pss.num_classes).tolist()
    assert targets == [0, 80, 1, 80, 80, 80]  # C-way: one positive per object, its gt class


def test_one_to_one_labels_top_one_selection(fcos_pss):
    anchors, scores, deltas, omegas, gts, _ = one_to_one_case(fcos_pss)
    fcos_pss.one_to_one_solver = "argmax"
    try:
        with EventStorage():
            (assignment,) = fcos_pss.label_one_to_one(anchors, scores, deltas, omegas, gts)
    finally:
        fcos_pss.one_to_one_solver = "hungarian"
    # each gt takes its best location; gt 1 loses location 2 to the higher-quality gt 0
    assert assignment.labels.tolist() == [-1, -1, 0, -1, -1, -1]
    assert assignment.num_unmatched_gt == 1


def test_omega_is_the_base_detectors_positives(fcos_pss):
    # Two nested gts on a 128x128 image: locations inside the small one are FCOS candidates of both.
    features = [torch.zeros(1, 1, 128 // s, 128 // s) for s in (8, 16, 32, 64, 128)]
    anchors = fcos_pss.anchor_generator(features)
    gt = make_instances(128, 128, [[8, 8, 120, 120], [30, 30, 70, 70]], [0, 1])
    fcos_pss.omega = "prior"
    try:
        with EventStorage():
            (one_to_many,), (prior,) = fcos_pss.label_one_to_many(anchors, [gt])
    finally:
        fcos_pss.omega = "positives"
    with EventStorage():
        _, (positives,) = fcos_pss.label_one_to_many(anchors, [gt])
    prior_pairs = set(zip(prior.gt.tolist(), prior.pred.tolist()))
    positive_pairs = set(zip(positives.gt.tolist(), positives.pred.tolist()))
    # "positives" are exactly L_fcos's positives; "prior" adds the locations lost in the tie-break
    assert positive_pairs == set(zip(one_to_many.gt_inds.tolist(), one_to_many.pred_inds.tolist()))
    assert positive_pairs < prior_pairs
    shared = {p for g, p in prior_pairs if g == 0} & {p for g, p in prior_pairs if g == 1}
    assert shared and all((1, p) in positive_pairs for p in shared)  # the smaller gt wins (FCOS)


# ------------------------------------------------------------------------------------ stop-grad
def pss_loss_gradients(overrides=()):
    """Gradients of L_pss + L_rank alone on the base network's and the PSS branch's parameters."""
    model = build_model(FCOS_PSS_CONFIG, overrides=overrides)
    model.train()
    inputs = [
        {
            "image": torch.rand(3, 96, 128) * 255,
            "instances": make_instances(96, 128, [[10, 10, 60, 80], [40, 20, 120, 90]], [0, 3]),
        }
    ]
    torch.manual_seed(0)
    with EventStorage():
        losses = model(inputs)
    pss_loss = losses["loss_pss_cls"] + losses["loss_pss_rank"]
    pss_ids = {id(p) for p in model.head.pss_parameters()}
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    grads = torch.autograd.grad(pss_loss, [p for _, p in named], allow_unused=True)
    base = {n: g for (n, p), g in zip(named, grads) if id(p) not in pss_ids}
    pss = {n: g for (n, p), g in zip(named, grads) if id(p) in pss_ids}
    return base, pss


def nonzero(grads):
    return sorted(n for n, g in grads.items() if g is not None and g.abs().sum() > 0)


def test_stop_grad_no_pss_gradient_reaches_the_base_network():
    base, pss = pss_loss_gradients()
    assert len(base) > 50 and nonzero(base) == []  # exactly zero (None or 0) everywhere
    assert nonzero(pss) == sorted(pss)  # every PSS parameter learns


@pytest.mark.parametrize(
    "override,reached",
    [
        ("model.head.pss_stop_grad=False", "head.bbox_subnet.0.weight"),  # via the PSS input
        ("model.pss_score_stop_grad=False", "head.cls_score.weight"),  # via sigma(s) in P-hat
    ],
)
def test_without_stop_grad_the_pss_losses_reach_the_base_network(override, reached):
    base, _ = pss_loss_gradients((override,))
    assert reached in nonzero(base)


# ------------------------------------------------------------------------------------ modes
def test_two_step_pss_only_trains_nothing_but_the_pss_branch():
    model = build_model(FCOS_PSS_CONFIG, overrides=("model.training_mode=pss_only",))
    pss_ids = {id(p) for p in model.head.pss_parameters()}
    assert all(p.requires_grad == (id(p) in pss_ids) for p in model.parameters())
    model.train()
    assert not model.backbone.training and not model.head.cls_subnet.training
    assert model.head.pss_subnet.training
    before = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("head.pss_")}
    inputs = [
        {
            "image": torch.rand(3, 64, 96) * 255,
            "instances": make_instances(64, 96, [[5, 5, 50, 60]], [2]),
        }
    ]
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    with EventStorage():
        losses = model(inputs)
    assert set(losses) == {"loss_pss_cls", "loss_pss_rank"}
    sum(losses.values()).backward()
    opt.step()
    after = model.state_dict()
    assert all(torch.equal(v, after[k]) for k, v in before.items())  # BN statistics included


def test_base_only_has_no_pss_loss_and_no_trainable_pss_parameter():
    model = build_model("PSS/fcos_R_50_FPN_3x.py")
    assert not any(p.requires_grad for p in model.head.pss_parameters())
    inputs = [
        {
            "image": torch.rand(3, 64, 96) * 255,
            "instances": make_instances(64, 96, [[5, 5, 50, 60]], [2]),
        }
    ]
    with EventStorage():
        losses = model(inputs)
    assert set(losses) == {"loss_fcos_cls", "loss_fcos_loc", "loss_fcos_ctr"}
    with pytest.raises(ValueError, match="one_to_many"):
        build_model("PSS/fcos_R_50_FPN_3x.py", overrides=("model.inference_mode=pss",))


@pytest.mark.parametrize("mode", ["pss", "one_to_many"])
def test_inference_scores(fcos_pss, mode):
    """The best detection's score is max P-hat (Eq. 4) or, discarding the PSS branch, FCOS's
    sqrt(sigma(s) sigma(ctr)); no NMS either way."""
    torch.manual_seed(0)
    fcos_pss.eval()
    fcos_pss.test_score_thresh, fcos_pss.inference_mode = 0.0, mode
    try:
        with torch.no_grad():
            image = torch.rand(3, 64, 96) * 255
            (out,) = fcos_pss([{"image": image}])
            images = fcos_pss.preprocess_image([{"image": image}])
            features = fcos_pss.backbone(images.tensor)
            logits, _, ctrness, pss = fcos_pss.head(
                [features[f] for f in fcos_pss.head_in_features]
            )
    finally:
        fcos_pss.test_score_thresh, fcos_pss.inference_mode = 0.05, "pss"
    if mode == "pss":
        best = max(
            (s.sigmoid() * c.sigmoid() * p.sigmoid()).max() for s, c, p in zip(logits, ctrness, pss)
        )
    else:
        best = max((s.sigmoid() * c.sigmoid()).sqrt().max() for s, c in zip(logits, ctrness))
    torch.testing.assert_close(out["instances"].scores[0], best)


def test_gt_class_out_of_range_is_a_clear_error(fcos_pss):
    fcos_pss.train()
    inputs = [
        {
            "image": torch.rand(3, 64, 64) * 255,
            "instances": make_instances(64, 64, [[5, 5, 40, 40]], [80]),
        }
    ]
    with EventStorage(), pytest.raises(ValueError, match="num_classes"):
        fcos_pss(inputs)


# ------------------------------------------------------------------------------------ loss values
# Three images, five locations, three classes; sigma(s), sigma(ctr), sigma(pss) chosen by hand.
PSS_CASE_CLS = [
    [[0.1, 0.2, 0.3], [0.6, 0.3, 0.8], [0.2, 0.4, 0.1], [0.5, 0.7, 0.2], [0.3, 0.1, 0.6]],
    [[0.2, 0.5, 0.1], [0.4, 0.3, 0.2], [0.7, 0.6, 0.4], [0.1, 0.2, 0.3], [0.3, 0.8, 0.5]],
    [[0.2, 0.1, 0.3], [0.5, 0.2, 0.1], [0.1, 0.1, 0.1], [0.4, 0.3, 0.6], [0.2, 0.7, 0.2]],
]
PSS_CASE_CTR = [[0.9, 0.8, 0.7, 0.6, 0.5], [0.5, 0.6, 0.7, 0.8, 0.9], [0.6, 0.6, 0.6, 0.6, 0.6]]
PSS_CASE_PSS = [[0.3, 0.9, 0.4, 0.8, 0.2], [0.5, 0.4, 0.9, 0.3, 0.6], [0.7, 0.2, 0.5, 0.3, 0.4]]


def pss_case_p_hat(n, r, k):
    """Eq. 4 by hand: P-hat_r(k) of image n."""
    return PSS_CASE_PSS[n][r] * PSS_CASE_CLS[n][r][k] * PSS_CASE_CTR[n][r]


def pss_case_inputs():
    """logits (N, R, K), deltas, centerness and PSS logits (N, R, 1) of the hand-valued case."""

    def logit(p):
        return torch.tensor(p, dtype=torch.float64).logit().float()

    logits = logit(PSS_CASE_CLS)
    ctrness, pss = logit(PSS_CASE_CTR)[..., None], logit(PSS_CASE_PSS)[..., None]
    return logits, torch.zeros(3, 5, 4), ctrness, pss


def expected_pss_focal_loss(positives):
    """sum over every (image, location, class) of -alpha_t (1 - p_t)^2 log p_t (alpha = 0.25);
    ``positives`` holds the (image, location, class) triples whose target is 1."""
    total = 0.0
    for n, r, k in itertools.product(range(3), range(5), range(3)):
        p = pss_case_p_hat(n, r, k)
        if (n, r, k) in positives:
            total += -0.25 * (1 - p) ** 2 * math.log(p)
        else:
            total += -0.75 * p**2 * math.log(1 - p)
    return total


def expected_ranking_loss(positives, num_negatives, margin=0.5):
    """Eq. 2 per image with a positive, averaged: hinge of each positive's P-hat at its gt class
    against the top n_- best-class P-hat of the locations that are not one-to-one positives."""
    per_image = []
    for n in range(3):
        pos = [pss_case_p_hat(m, r, k) for m, r, k in positives if m == n]
        if not pos:
            continue
        pos_locs = {r for m, r, _ in positives if m == n}
        neg = sorted(
            (max(pss_case_p_hat(n, r, k) for k in range(3)) for r in range(5) if r not in pos_locs),
            reverse=True,
        )[:num_negatives]
        hinges = [max(0.0, margin - p + q) for p in pos for q in neg]
        per_image.append(sum(hinges) / len(hinges))
    return sum(per_image) / len(per_image)


def patch_pss_case(monkeypatch, model, one_to_one_labels, num_gts):
    """Three classes, n_- = 3, lambda_1 = 0.5, and label_one_to_one replaced by fixed assignments
    (``labels`` per image: matched gt index or -1); returns the calls it received. The PSS EMA
    normaliser starts absent (first iteration) and the base detector's is set to 7, so neither
    leaks into the test's state or from one normaliser into the other."""
    monkeypatch.setattr(model, "num_classes", 3)
    monkeypatch.setattr(model, "rank_num_negatives", 3)
    monkeypatch.setattr(model, "pss_loss_weight", 0.5)
    monkeypatch.setattr(model, "loss_normalizer", 7.0, raising=False)
    # setattr then delattr: the attribute is absent during the test and, undone in reverse
    # order, removed (or restored) afterwards.
    monkeypatch.setattr(model, "loss_pss_normalizer", None, raising=False)
    monkeypatch.delattr(model, "loss_pss_normalizer")
    assert (model.focal_loss_alpha, model.focal_loss_gamma) == (0.25, 2.0)
    assert (model.rank_loss_weight, model.rank_margin, model.rank_negatives) == (
        0.25,
        0.5,
        "max_class",
    )
    calls = []

    def fake_label_one_to_one(anchors, scores, deltas, omegas, gt_instances):
        calls.append((scores, omegas))
        assignments = []
        for labels, num_gt in zip(one_to_one_labels, num_gts):
            labels = torch.tensor(labels)
            pred = (labels >= 0).nonzero(as_tuple=True)[0]
            assignments.append(Assignment(labels[pred], pred, labels, num_gt, len(labels)))
        return assignments

    monkeypatch.setattr(model, "label_one_to_one", fake_label_one_to_one)
    return calls


def test_pss_losses_hand_values(fcos_pss, monkeypatch):
    """loss_pss_cls = lambda_1 L_pss: focal loss of P-hat against the one-to-one labels (not
    Omega), over an EMA of #one-to-one positives; loss_pss_rank = lambda_2 L_rank (Eq. 2)."""
    model = fcos_pss
    # image 0: gts of classes 1 and 2, one-to-one positives at locations 1 and 3; Omega is larger
    # (gt 0: 0, 1, 2; gt 1: 3, 4). Image 1: gt 0 (class 2) -> location 2, gt 1 (class 1) is
    # unmatched; Omega gt 0: 1, 2; gt 1: 4. Image 2: no gt.
    calls = patch_pss_case(
        monkeypatch, model, [[-1, 0, -1, 1, -1], [-1, -1, 0, -1, -1], [-1] * 5], [2, 2, 0]
    )
    gts = [
        make_instances(64, 64, [[0, 0, 10, 10], [0, 0, 20, 20]], [1, 2]),
        make_instances(64, 64, [[0, 0, 10, 10], [0, 0, 20, 20]], [2, 1]),
        make_instances(64, 64, [], []),
    ]
    omegas = [
        Candidates(torch.tensor([0, 0, 0, 1, 1]), torch.tensor([0, 1, 2, 3, 4]), 2, 5),
        Candidates(torch.tensor([0, 0, 1]), torch.tensor([1, 2, 4]), 2, 5),
        Candidates.empty(0, 5),
    ]
    anchors = [Boxes(torch.zeros(5, 4))]
    logits, deltas, ctrness, pss = pss_case_inputs()
    positives = {(0, 1, 1), (0, 3, 2), (1, 2, 2)}  # (image, location, gt class)

    losses = model.pss_losses(anchors, logits, deltas, ctrness, pss, omegas, gts)

    (scores, seen_omegas), *_ = calls
    assert seen_omegas is omegas  # Eq. 3 matches P-hat inside Omega
    p_hat = torch.tensor(
        [[[pss_case_p_hat(n, r, k) for k in range(3)] for r in range(5)] for n in range(3)]
    )
    torch.testing.assert_close(scores, p_hat)
    # the hinges are all active, and scoring a positive with class 0 or its best class instead of
    # its gt class would change L_rank (image 0: gt 0.216, class 0 0.432, best 0.576)
    focal = expected_pss_focal_loss(positives)
    normalizer = 0.9 * 100 + 0.1 * 3  # detectron2's EMA, first iteration: 3 one-to-one positives
    assert set(losses) == {"loss_pss_cls", "loss_pss_rank"}
    assert losses["loss_pss_cls"].item() == pytest.approx(0.5 * focal / normalizer, rel=1e-5)
    rank = expected_ranking_loss(positives, num_negatives=3)
    assert losses["loss_pss_rank"].item() == pytest.approx(0.25 * rank, rel=1e-5)

    # the EMA goes on from its last value (momentum 0.9), the base detector's untouched
    losses = model.pss_losses(anchors, logits, deltas, ctrness, pss, omegas, gts)
    normalizer = 0.9 * normalizer + 0.1 * 3
    assert losses["loss_pss_cls"].item() == pytest.approx(0.5 * focal / normalizer, rel=1e-5)
    assert model.loss_pss_normalizer == pytest.approx(normalizer)
    assert model.loss_normalizer == 7.0


def test_pss_losses_without_one_to_one_positive(fcos_pss, monkeypatch):
    """No positive anywhere: L_pss is the negatives' focal loss over the EMA of max(0, 1) and
    L_rank is zero (no image has a positive)."""
    model = fcos_pss
    patch_pss_case(monkeypatch, model, [[-1] * 5] * 3, [1, 0, 0])
    gts = [make_instances(64, 64, [[0, 0, 10, 10]], [1])] + [make_instances(64, 64, [], [])] * 2
    omegas = [Candidates(torch.tensor([0, 0]), torch.tensor([1, 2]), 1, 5)]
    omegas += [Candidates.empty(0, 5)] * 2
    logits, deltas, ctrness, pss = pss_case_inputs()
    losses = model.pss_losses([Boxes(torch.zeros(5, 4))], logits, deltas, ctrness, pss, omegas, gts)
    want = 0.5 * expected_pss_focal_loss(set()) / (0.9 * 100 + 0.1 * 1)
    assert losses["loss_pss_cls"].item() == pytest.approx(want, rel=1e-5)
    assert losses["loss_pss_rank"].item() == 0.0
