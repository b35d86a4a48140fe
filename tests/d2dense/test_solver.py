"""Full-model gradient clipping: the norm of all gradients together, across parameter groups."""

import pytest
import torch

from d2dense.solver import AdamWFullModelGradClip, SGDFullModelGradClip


@pytest.mark.parametrize("cls", [SGDFullModelGradClip, AdamWFullModelGradClip])
def test_clips_the_joint_norm_and_keeps_direction(cls):
    a, b = torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.zeros(4))
    opt = cls([{"params": [a]}, {"params": [b]}], lr=0.0, clip_norm=1.0)
    # joint norm sqrt(3 * 9 + 4 * 16) = sqrt(91): each group alone would be clipped differently
    a.grad, b.grad = torch.full((3,), 3.0), torch.full((4,), 4.0)
    opt.step()
    assert torch.cat([a.grad, b.grad]).norm().item() == pytest.approx(1.0, rel=1e-4)
    torch.testing.assert_close(a.grad / b.grad[:3], torch.full((3,), 0.75))
    assert cls.__name__.endswith("FullModelGradClip") and issubclass(cls, torch.optim.Optimizer)


def test_small_gradients_untouched_and_bad_norm_rejected():
    p = torch.nn.Parameter(torch.zeros(2))
    opt = SGDFullModelGradClip([p], lr=1.0, clip_norm=10.0)
    p.grad = torch.tensor([0.3, 0.4])
    opt.step()
    torch.testing.assert_close(p.detach(), torch.tensor([-0.3, -0.4]))
    with pytest.raises(ValueError, match="clip_norm"):
        SGDFullModelGradClip([p], lr=1.0, clip_norm=0.0)
