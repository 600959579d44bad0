"""Image metrics: L1, PSNR and SSIM over the whole image or only inside a mask.

Images are float (B,3,H,W) RGB in [0,1]; masks (B,1,H,W) in {0,1}. Each function returns one value
per image, shape (B,), so callers can average or report per sample. In-mask variants weight every
pixel by the mask; an image whose mask is empty gets NaN (nothing to measure), which callers skip.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _weighted_mean(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    # values (B,C,H,W); mask (B,1,H,W) broadcast over channels.
    if mask is None:
        return values.flatten(1).mean(1)
    w = mask.to(values.dtype).expand_as(values)
    den = w.flatten(1).sum(1)
    return (values * w).flatten(1).sum(1) / den.where(den > 0, torch.nan)


def l1(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean absolute error per image, (B,)."""
    return _weighted_mean((a - b).abs(), mask)


def psnr(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """PSNR in dB for images in [0,1], (B,); identical images give +inf."""
    mse = _weighted_mean((a - b) ** 2, mask)
    return 10 * torch.log10(1.0 / mse)


def _gaussian_window(size: int, sigma: float, channels: int, like: torch.Tensor) -> torch.Tensor:
    x = torch.arange(size, dtype=like.dtype, device=like.device) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()  # (C,1,k,k)


def ssim_map(a: torch.Tensor, b: torch.Tensor, *, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Per-pixel SSIM (Wang et al. 2004, Gaussian window), (B,C,H,W); borders use reflect padding
    so the map keeps the image size and an in-mask average can use every masked pixel."""
    c = a.shape[1]
    w = _gaussian_window(window, sigma, c, a)
    pad = window // 2

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(x, (pad,) * 4, mode="reflect"), w, groups=c)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2  # for a data range of 1
    return ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))


def ssim(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean SSIM per image, (B,), over the whole image or over the masked pixels."""
    return _weighted_mean(ssim_map(a, b), mask)


def laplacian_variance(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Variance of the luma Laplacian inside ``mask``, (B,): the usual focus measure, here of the painted
    region. image (B,3,H,W) in [0,1]; mask (B,1,H,W) in {0,1}; an empty mask gives NaN."""
    luma = (image * torch.tensor([0.299, 0.587, 0.114], device=image.device).view(1, 3, 1, 1)).sum(1, keepdim=True)
    k = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]], device=image.device).view(1, 1, 3, 3)
    lap = F.conv2d(F.pad(luma, (1, 1, 1, 1), mode="replicate"), k)  # (B,1,H,W)
    mean = _weighted_mean(lap, mask)
    return _weighted_mean((lap - mean.view(-1, 1, 1, 1)) ** 2, mask)


def sharpness_ratio(result: torch.Tensor, truth: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Laplacian variance of ``result`` / that of ``truth``, same region, (B,): 1 keeps the real face's
    fine detail, a blur gives far less than 1."""
    return laplacian_variance(result, mask) / laplacian_variance(truth, mask)
