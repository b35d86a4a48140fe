"""FCOS + Aux (DeFCN Table 5): FCOS's own losses untouched, plus DeFCN's auxiliary loss computed
by hand from matchcost's Sec. 3.2.3 rule."""

import pytest
import torch
import torch.nn.functional as F
from fvcore.nn import sigmoid_focal_loss_jit

from detectron2.structures import Boxes
from detectron2.utils.events import EventStorage

import matchcost
from defcn import FCOSAux
from helpers import build_model, make_instances

NUM_CLASSES = 3


def _inputs():
    torch.manual_seed(3)
    sizes = ((128, 160), (120, 150))
    gts = (
        ([[10, 12, 70, 100], [60, 20, 150, 110], [4, 4, 11, 12]], [2, 0, 1]),
        ([], []),  # an image without objects
    )
    return [
        {"image": torch.rand(3, h, w) * 255, "instances": make_instances(h, w, b, c)}
        for (h, w), (b, c) in zip(sizes, gts)
    ]


def _train_losses(model, inputs):
    """Losses of one training forward and the head's outputs (logits, deltas, centerness)."""
    captured = {}
    hook = model.head.register_forward_hook(lambda m, i, o: captured.setdefault("out", o))
    model.train()
    with EventStorage():
        losses = model(inputs)
    hook.remove()
    return losses, captured["out"]


def _hand_aux_loss(model, head_out, inputs, score):
    """Eq.-level reference: per image, matchcost.defcn_aux_assign on ``score`` (R, K) and the
    decoded boxes; focal loss (sum) over the images; EMA normaliser from its initial 100."""
    logits_maps, delta_maps, ctr_maps = head_out
    anchors = model.anchor_generator(logits_maps)  # only the maps' sizes matter
    num_points = [len(a) for a in anchors]
    anchors = Boxes.cat(anchors)
    flat = lambda maps, k: torch.cat(  # noqa: E731
        [m.permute(0, 2, 3, 1).reshape(m.shape[0], -1, k) for m in maps], dim=1
    )
    logits, deltas, ctr = flat(logits_maps, NUM_CLASSES), flat(delta_maps, 4), flat(ctr_maps, 1)
    total, num_pos = 0.0, 0
    for i, d in enumerate(inputs):
        inst = d["instances"]
        boxes = model.box2box_transform.apply_deltas(deltas[i].detach(), anchors.tensor)
        probs = score(logits[i], ctr[i]).detach()
        a = matchcost.defcn_aux_assign(
            probs,
            boxes,
            inst.gt_boxes.tensor,
            inst.gt_classes,
            anchors.get_centers(),
            num_points_per_level=num_points,
        )
        targets = torch.zeros_like(logits[i])
        fg = a.labels >= 0
        targets[fg, inst.gt_classes[a.labels[fg]]] = 1.0
        num_pos += int(fg.sum())
        total = total + sigmoid_focal_loss_jit(logits[i], targets, 0.25, 2.0, reduction="sum")
    return total / (100 * 0.9 + max(num_pos, 1) * 0.1), num_pos


def test_fcos_aux_adds_the_aux_loss_to_unchanged_fcos_losses():
    fcos = build_model(
        "Baselines/fcos_R_50_FPN_3x.py", overrides=[f"model.num_classes={NUM_CLASSES}"]
    )
    model = build_model(
        "DeFCN/fcos_aux_R_50_FPN_3x.py", overrides=[f"model.num_classes={NUM_CLASSES}"]
    )
    assert isinstance(model, FCOSAux) and model.use_centerness
    # scores that vary over the points (at init they are all near the prior): the quality's
    # ranking then depends on which score the rule reads
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for conv in (fcos.head.cls_score, fcos.head.ctrness):
            conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen) * 0.5)
    model.load_state_dict(fcos.state_dict())  # no extra parameter: the same network
    inputs = _inputs()
    want, _ = _train_losses(fcos, inputs)
    got, head_out = _train_losses(model, inputs)
    assert set(got) == set(want) | {"loss_fcos_aux_cls"}
    for k in want:
        torch.testing.assert_close(got[k], want[k])

    expected, num_pos = _hand_aux_loss(model, head_out, inputs, lambda cls, ctr: cls.sigmoid())
    assert num_pos > 0
    torch.testing.assert_close(got["loss_fcos_aux_cls"], expected)
    # the rule reads sigmoid(cls) alone (Sec. 3.2.3), not FCOS's test score sqrt(cls * ctr): the
    # check above would tell the two apart
    with_ctr, _ = _hand_aux_loss(
        model, head_out, inputs, lambda cls, ctr: (cls.sigmoid() * ctr.sigmoid()).sqrt()
    )
    assert not torch.allclose(with_ctr, expected)

    got["loss_fcos_aux_cls"].backward()  # the aux loss trains the classification logits
    assert model.head.cls_score.weight.grad.abs().sum() > 0


def test_fcos_aux_needs_a_positive_weight():
    with pytest.raises(ValueError, match="aux_loss_weight"):
        build_model("DeFCN/fcos_aux_R_50_FPN_3x.py", overrides=["model.aux_loss_weight=0"])


def test_fcos_aux_yacs_route_matches_the_lazy_config():
    from helpers import build_yacs_model

    cfg, yacs_model = build_yacs_model("DeFCN/yacs/fcos_aux_R_50_FPN_3x.yaml")
    lazy_model = build_model("DeFCN/fcos_aux_R_50_FPN_3x.py", scale="paper")
    for m in (yacs_model, lazy_model):
        assert isinstance(m, FCOSAux) and m.use_centerness
    assert repr(yacs_model.aux_assigner) == repr(lazy_model.aux_assigner)
    assert yacs_model.aux_loss_weight == lazy_model.aux_loss_weight == 1.0
