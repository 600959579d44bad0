"""Losses: BCE + Dice for the segmenter; WGAN-GP critic and generator losses for the inpainter."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """1 - soft Dice per image, averaged. logits, target (B,1,H,W); target in {0,1}."""
    p = torch.sigmoid(logits.float()).flatten(1)
    t = target.float().flatten(1)
    return (1 - (2 * (p * t).sum(1) + eps) / (p.sum(1) + t.sum(1) + eps)).mean()


def bce_dice(logits: torch.Tensor, target: torch.Tensor, *, dice_weight: float = 1.0) -> torch.Tensor:
    """BCE (pixel-wise accuracy) + Dice (overlap, insensitive to how small the mask is)."""
    bce = F.binary_cross_entropy_with_logits(logits.float(), target.float())
    return bce + dice_weight * dice_loss(logits, target)


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor, mask: torch.Tensor | None = None,
                     ) -> torch.Tensor:
    """E[(||grad_x D(x_hat)||_2 - 1)^2] with x_hat = eps*real + (1-eps)*fake, eps ~ U(0,1) per sample.

    real, fake (B,3,H,W) in [-1,1]; the mask channel (if the critic takes one) is not interpolated:
    it is the same for both.
    """
    eps = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)  # (B,1,1,1)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    scores = critic(x_hat, mask) if mask is not None else critic(x_hat)
    (grad,) = torch.autograd.grad(scores.float().sum(), x_hat, create_graph=True)
    return ((grad.float().flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Wasserstein critic loss to minimise: E[D(fake)] - E[D(real)]."""
    return fake_scores.float().mean() - real_scores.float().mean()


def reconstruction_l1(raw: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, *,
                      hole_weight: float) -> torch.Tensor:
    """L1 between the raw generator output and the ground truth, ``hole_weight`` times heavier inside
    the mask. raw, target (B,3,H,W) in [-1,1]; mask (B,1,H,W) in {0,1}. Using the raw output (not the
    composite) keeps a gradient outside the mask, which ties the whole face to the input."""
    w = 1 + (hole_weight - 1) * mask  # (B,1,H,W)
    return ((raw.float() - target.float()).abs() * w).mean() / w.mean()


def generator_loss(fake_scores: torch.Tensor, raw: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                   *, rec_weight: float, hole_weight: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(total, adversarial): -E[D(G(x))] + rec_weight * weighted L1."""
    adv = -fake_scores.float().mean()
    return adv + rec_weight * reconstruction_l1(raw, target, mask, hole_weight=hole_weight), adv


def high_frequency_l1(raw: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L1 between the Laplacians of the raw output and the truth, inside the mask only.

    An L1 on pixels is met best by the local mean, which is a blur; on the Laplacian, a flat patch where
    the truth has pores, lip lines and stubble costs as much as the detail itself. raw, target (B,3,H,W)
    in [-1,1]; mask (B,1,H,W) in {0,1}. Returns a 0-d tensor (0 when every mask is empty)."""
    lap = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]], device=raw.device)
    k = lap.expand(3, 1, 3, 3)  # (3,1,3,3) depthwise
    a = F.conv2d(F.pad(raw.float(), (1, 1, 1, 1), mode="replicate"), k, groups=3)  # (B,3,H,W)
    b = F.conv2d(F.pad(target.float(), (1, 1, 1, 1), mode="replicate"), k, groups=3)
    m = mask.float()
    return ((a - b).abs() * m).sum() / (3 * m.sum()).clamp_min(1.0)


def feature_matching(fake_feats: list[torch.Tensor], real_feats: list[torch.Tensor]) -> torch.Tensor:
    """pix2pixHD's feature matching: mean over the critic's layers of L1(features(fake), features(real)).
    The real side is a fixed target (detached); the generator is pulled to images whose statistics the
    critic sees as real at every scale, which steadies the adversarial phase."""
    terms = [(f.float() - r.detach().float()).abs().mean() for f, r in zip(fake_feats, real_feats, strict=True)]
    return torch.stack(terms).mean()
