"""Losses, augmentation and single GAN updates, each against a case worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch

from maskaway_cli.train.augment import diff_augment, instance_noise_std, parse_policy, seg_augment
from maskaway_cli.train.gan import lr_at
from maskaway_cli.train.losses import bce_dice, critic_loss, dice_loss, gradient_penalty, reconstruction_l1


class Linear(torch.nn.Module):
    """D(x) = <w, x>: its input gradient is w everywhere, so GP = (||w|| - 1)^2 exactly."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.w).flatten(1).sum(1)


def test_gradient_penalty_hand_computed() -> None:
    w = torch.zeros(1, 3, 2, 2)
    w[0, 0, 0, 0], w[0, 1, 1, 1] = 3.0, 4.0  # ||w|| = 5 -> (5 - 1)^2 = 16
    gp = gradient_penalty(Linear(w), torch.rand(4, 3, 2, 2), torch.rand(4, 3, 2, 2))
    assert gp.item() == pytest.approx(16.0)


def test_gradient_penalty_gradient_reaches_the_critic() -> None:
    w = torch.zeros(1, 3, 2, 2)
    w[0, 0, 0, 0] = 2.0  # ||w|| = 2
    critic = Linear(w)
    gradient_penalty(critic, torch.rand(2, 3, 2, 2), torch.rand(2, 3, 2, 2)).backward()
    assert critic.w.grad[0, 0, 0, 0].item() == pytest.approx(2 * (2 - 1) * 1.0)


def test_gradient_penalty_interpolates_per_sample() -> None:
    # A critic whose gradient depends on x: D(x) = sum(x^2)/2 -> grad = x_hat. With real = fake the
    # interpolate is that point whatever eps is, so GP = (||real|| - 1)^2 per sample.
    class Square(torch.nn.Module):
        def forward(self, x):
            return (x**2).flatten(1).sum(1) / 2

    real = torch.zeros(2, 1, 1, 2)
    real[0, 0, 0] = torch.tensor([3.0, 4.0])  # norm 5 -> 16
    real[1, 0, 0] = torch.tensor([1.0, 0.0])  # norm 1 -> 0
    assert gradient_penalty(Square(), real, real.clone()).item() == pytest.approx(8.0)


def test_bce_dice_rewards_the_right_mask() -> None:
    target = torch.zeros(2, 1, 8, 8)
    target[..., 2:5, 2:6] = 1
    good = (target * 2 - 1) * 10  # confident and right
    assert bce_dice(good, target) < 0.01
    assert bce_dice(-good, target) > 1.5
    assert dice_loss(good, target) < dice_loss(torch.zeros_like(good), target)


def test_critic_loss_and_weighted_l1() -> None:
    assert critic_loss(torch.tensor([2.0, 4.0]), torch.tensor([1.0])).item() == pytest.approx(1 - 3)
    target = torch.zeros(1, 3, 2, 2)
    raw = torch.zeros(1, 3, 2, 2)
    raw[..., 0, 0] = 1.0  # error 1 at one pixel
    m = torch.zeros(1, 1, 2, 2)
    m[..., 0, 0] = 1
    inside = reconstruction_l1(raw, target, m, hole_weight=6.0)
    outside = reconstruction_l1(raw, target, 1 - m, hole_weight=6.0)
    assert inside.item() == pytest.approx(3 * 6 / (3 * (6 + 3)))  # sum(|e| w) / sum(w)
    assert inside > outside


def test_seg_augment_flips_image_and_mask_together() -> None:
    torch.manual_seed(0)
    image = torch.zeros(32, 3, 8, 8)
    image[..., :4] = 1.0  # bright left half
    mask = torch.zeros(32, 1, 8, 8)
    mask[..., :4] = 1.0  # mask on the left half too
    out, m = seg_augment(image, mask)
    flipped = m[:, 0, 0, 0] == 0
    assert 0 < flipped.sum() < 32
    left, right = out[..., :4].mean(dim=(1, 2, 3)), out[..., 4:].mean(dim=(1, 2, 3))
    assert torch.equal(flipped, left < right)  # the bright half moved with the mask
    assert set(m.unique().tolist()) == {0.0, 1.0} and out.min() >= 0 and out.max() <= 1
    assert not torch.allclose(out[~flipped][:, :, :, :4], image[~flipped][:, :, :, :4])  # colour changed


def test_diff_augment_uses_one_draw_for_real_and_fake_and_is_differentiable() -> None:
    torch.manual_seed(0)
    x = torch.rand(4, 4, 16, 16) * 2 - 1
    x[:, 3] = (x[:, 3] > 0).float()  # a mask channel
    fake = x.clone().requires_grad_(True)
    a, b = diff_augment([x, fake], parse_policy("color,translation,cutout"))
    assert torch.equal(a, b)  # identical inputs -> identical outputs: the same transform
    assert not torch.equal(a, x)
    assert set(a[:, 3].unique().tolist()) <= {0.0, 1.0}  # colour never touches the mask channel
    b.sum().backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0
    assert diff_augment([x], ())[0] is x
    with pytest.raises(ValueError, match="unknown augmentation"):
        parse_policy("colour")


def test_instance_noise_and_lr_schedules() -> None:
    assert instance_noise_std(0, 100, 0.15) == pytest.approx(0.15)
    assert instance_noise_std(50, 100, 0.15) == pytest.approx(0.075)
    assert instance_noise_std(100, 100, 0.15) == 0.0
    assert lr_at(0, 100, 1e-4, 1e-6) == pytest.approx(1e-4)
    assert lr_at(100, 100, 1e-4, 1e-6) == pytest.approx(1e-6)
    lrs = [lr_at(s, 100, 1e-4, 1e-6) for s in range(101)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))
    assert lr_at(50, 100, 1e-4, 1e-6) == pytest.approx(1e-6 + (1e-4 - 1e-6) * 0.5 * (1 + math.cos(math.pi / 2)))


def _toy_parts(**overrides):
    from maskaway_cli.train.config import GanConfig
    from maskaway_cli.train.gan import Parts
    from maskaway_cli.models import Critic, CriticConfig, Generator, UNetConfig
    from maskaway_cli.train.run import Setup
    from maskaway_cli.train.state import EMA

    torch.manual_seed(0)
    cfg = GanConfig(dataset="", run_dir="", critic_dropout=0.0, gp_weight=0.0, **overrides)
    gen = Generator(UNetConfig.for_size(32, in_channels=4, out_channels=3, base_channels=4))
    critic = Critic(CriticConfig(image_size=32, filters=(4, 4, 8, 8, 8), dropout=0.0))
    setup = Setup(torch.device("cpu"), False, False, None, None, None)
    adam = lambda m: torch.optim.Adam(m.parameters(), lr=1e-3, betas=(0.5, 0.9))  # noqa: E731
    return Parts(gen, critic, adam(gen), adam(critic), EMA(gen, 0.9), gen, critic, (), setup, cfg)


def _toy_batch():
    from maskaway_cli.data.feeder import Batch

    g = torch.Generator().manual_seed(1)
    original = torch.rand(8, 3, 32, 32, generator=g)
    mask = torch.zeros(8, 1, 32, 32)
    mask[..., 16:, 8:24] = 1
    return Batch(original * (1 - mask) + 0.5 * mask, original, mask)


def test_one_critic_then_generator_cycle_lowers_their_losses() -> None:
    from maskaway_cli.models import to_signed
    from maskaway_cli.train.gan import critic_step, generator_step
    from maskaway_cli.train.losses import generator_loss
    from maskaway_cli.train.run import BadStepGuard

    p, b = _toy_parts(), _toy_batch()
    guard = BadStepGuard(3, None)
    x, y, m = to_signed(b.masked), to_signed(b.original), b.mask

    def w_loss() -> float:
        with torch.no_grad():
            return critic_loss(p.critic(y, m), p.critic(p.gen(x, m), m)).item()

    def g_loss() -> float:
        with torch.no_grad():
            fake, raw = p.gen(x, m, return_raw=True)
            return generator_loss(p.critic(fake, m), raw, y, m, rec_weight=10, hole_weight=6)[0].item()

    before = w_loss()
    critic_step(p, b, 0.0, guard)
    assert w_loss() < before
    ema_before = [t.clone() for t in p.ema.model.parameters()]
    critic_grads = [t.grad.clone() for t in p.critic.parameters()]
    before = g_loss()
    generator_step(p, b, 0.0, guard)
    assert g_loss() < before
    assert all(not torch.equal(a, e) for a, e in zip(ema_before, p.ema.model.parameters()))
    # the critic is frozen during the generator phase: its gradients are untouched
    assert all(torch.equal(g, t.grad) for g, t in zip(critic_grads, p.critic.parameters()))
    assert all(t.requires_grad for t in p.critic.parameters())  # and unfrozen afterwards
