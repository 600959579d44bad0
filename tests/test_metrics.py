"""Segmentation and image metrics against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from maskaway_cli.metrics.image import l1, psnr, ssim
from maskaway_cli.metrics.seg import SegCounts, seg_counts, seg_scores


def test_seg_counts_and_scores_by_hand() -> None:
    pred = torch.tensor([1, 1, 1, 0, 0, 0], dtype=torch.bool).view(1, 1, 2, 3)
    target = torch.tensor([1, 1, 0, 1, 0, 0]).view(1, 1, 2, 3)
    c = seg_counts(pred, target)
    assert c == SegCounts(tp=2, fp=1, fn=1, tn=2)
    s = seg_scores(c)
    assert s["iou"] == pytest.approx(2 / 4)
    assert s["dice"] == pytest.approx(4 / 6)
    assert s["precision"] == pytest.approx(2 / 3) and s["recall"] == pytest.approx(2 / 3)
    assert s["leftover"] == pytest.approx(1 / 3)  # one of the three true mask pixels left unpainted
    assert seg_scores(SegCounts(tp=3, fp=4, fn=0))["leftover"] == 0.0  # painting more leaves nothing
    assert seg_scores(c + c) == s  # micro average is scale-free
    assert seg_scores(SegCounts(tn=5))["iou"] == 1.0  # nothing to find, nothing found


def test_l1_and_psnr_full_and_in_mask() -> None:
    a = torch.zeros(1, 3, 4, 4)
    b = torch.zeros(1, 3, 4, 4)
    b[..., :2, :] = 0.5  # top half differs by 0.5
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., :2, :] = 1
    assert l1(a, b).item() == pytest.approx(0.25)
    assert l1(a, b, mask).item() == pytest.approx(0.5)
    assert psnr(a, b, mask).item() == pytest.approx(10 * math.log10(1 / 0.25))
    assert psnr(a, b).item() == pytest.approx(10 * math.log10(1 / 0.125))
    assert math.isinf(psnr(a, a).item())
    assert math.isnan(l1(a, b, torch.zeros(1, 1, 4, 4)).item())  # empty mask: nothing to measure


def test_ssim_identical_is_one_and_noise_lowers_it() -> None:
    g = torch.Generator().manual_seed(0)
    a = torch.rand(2, 3, 32, 32, generator=g)
    assert torch.allclose(ssim(a, a), torch.ones(2), atol=1e-5)
    noisy = (a + 0.2 * torch.randn(a.shape, generator=g)).clamp(0, 1)
    assert (ssim(a, noisy) < 0.9).all()
    mask = torch.zeros(2, 1, 32, 32)
    mask[..., 16:, :] = 1
    half = a.clone()
    half[..., 16:, :] = noisy[..., 16:, :]  # only the masked half is damaged
    assert (ssim(a, half, mask) < ssim(a, half)).all()
