"""Augmentation: photometric + flip for the segmenter, differentiable (DiffAugment) for the critic.

Everything runs on the batch's device with torch's global RNG, whose state checkpoints save, so a
resumed run draws the same augmentations as an uninterrupted one.
"""

from __future__ import annotations

import torch

POLICIES = ("color", "translation", "cutout")


def _rgb_to_yiq(x: torch.Tensor) -> torch.Tensor:
    m = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]],
                     device=x.device, dtype=x.dtype)
    return torch.einsum("ij,bjhw->bihw", m, x)


def _yiq_to_rgb(x: torch.Tensor) -> torch.Tensor:
    m = torch.tensor([[1.0, 0.956, 0.621], [1.0, -0.272, -0.647], [1.0, -1.106, 1.703]],
                     device=x.device, dtype=x.dtype)
    return torch.einsum("ij,bjhw->bihw", m, x)


def seg_augment(image: torch.Tensor, mask: torch.Tensor, *, strength: float = 1.0,
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """image (B,3,H,W) RGB in [0,1], mask (B,1,H,W) -> augmented copies.

    Horizontal flips move image and mask together (a flipped mask must still cover the flipped
    mask pixels); brightness, contrast, hue, saturation and noise change only the image.
    """
    b, dev = image.shape[0], image.device
    r = lambda lo, hi: lo + (hi - lo) * torch.rand(b, 1, 1, 1, device=dev)  # noqa: E731
    flip = torch.rand(b, 1, 1, 1, device=dev) < 0.5
    image, mask = torch.where(flip, image.flip(3), image), torch.where(flip, mask.flip(3), mask)
    s = strength
    x = image + r(-0.2 * s, 0.2 * s)  # brightness
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * r(1 - 0.3 * s, 1 + 0.3 * s) + mean  # contrast
    yiq = _rgb_to_yiq(x)
    angle = r(-0.3 * s, 0.3 * s)  # hue: rotate the chroma plane (radians)
    sat = r(1 - 0.4 * s, 1 + 0.4 * s)
    i, q = yiq[:, 1:2], yiq[:, 2:3]
    i, q = (i * angle.cos() - q * angle.sin()) * sat, (i * angle.sin() + q * angle.cos()) * sat
    x = _yiq_to_rgb(torch.cat([yiq[:, :1], i, q], dim=1))
    x = x + torch.randn_like(x) * r(0, 0.03 * s)  # sensor noise
    return x.clamp(0, 1), mask


def parse_policy(text: str) -> tuple[str, ...]:
    """'color,translation' -> ('color', 'translation'); '' or 'none' -> ()."""
    names = tuple(p.strip() for p in text.split(",") if p.strip() and p.strip() != "none")
    bad = [p for p in names if p not in POLICIES]
    if bad:
        raise ValueError(f"unknown augmentation {bad[0]!r} (choose from {', '.join(POLICIES)})")
    return names


def diff_augment(tensors: list[torch.Tensor], policy: tuple[str, ...]) -> list[torch.Tensor]:
    """Differentiable augmentation (Zhao et al. 2020) with the SAME random draw for every tensor.

    tensors: (B,C,H,W) in [-1,1], e.g. [real, fake] each with the mask as channel 4: the critic then
    sees real and generated images under identical transforms, and gradients flow to the generator.
    Colour changes touch channels 0-2 only (never the mask channel).
    """
    b, _, h, w = tensors[0].shape
    dev, dt = tensors[0].device, tensors[0].dtype
    out = list(tensors)
    if "color" in policy:
        bright = torch.rand(b, 1, 1, 1, device=dev, dtype=dt) - 0.5
        sat = torch.rand(b, 1, 1, 1, device=dev, dtype=dt) * 2
        con = torch.rand(b, 1, 1, 1, device=dev, dtype=dt) + 0.5
        for k, t in enumerate(out):
            rgb = t[:, :3] + bright
            mean = rgb.mean(dim=1, keepdim=True)
            rgb = (rgb - mean) * sat + mean
            mean = rgb.mean(dim=(1, 2, 3), keepdim=True)
            rgb = (rgb - mean) * con + mean
            out[k] = torch.cat([rgb, t[:, 3:]], dim=1)
    if "translation" in policy:
        sy, sx = h // 8, w // 8  # up to 1/8 of the image each way
        dy = torch.randint(-sy, sy + 1, (b, 1, 1), device=dev)
        dx = torch.randint(-sx, sx + 1, (b, 1, 1), device=dev)
        gy = (torch.arange(h, device=dev)[None, :, None] + dy).clamp(-1, h)  # (B,H,1)
        gx = (torch.arange(w, device=dev)[None, None, :] + dx).clamp(-1, w)  # (B,1,W)
        bi = torch.arange(b, device=dev)[:, None, None]
        for k, t in enumerate(out):
            padded = torch.nn.functional.pad(t, (1, 1, 1, 1))  # zero border for pixels shifted in
            out[k] = padded.permute(0, 2, 3, 1)[bi, gy + 1, gx + 1].permute(0, 3, 1, 2)
    if "cutout" in policy:
        ch, cw = h // 2, w // 2
        cy = torch.randint(0, h + 1 - ch % 2, (b, 1, 1), device=dev)
        cx = torch.randint(0, w + 1 - cw % 2, (b, 1, 1), device=dev)
        ys = torch.arange(h, device=dev)[None, :, None]
        xs = torch.arange(w, device=dev)[None, None, :]
        keep = ~(((ys - cy).abs() < ch // 2 + 1) & ((xs - cx).abs() < cw // 2 + 1))  # (B,H,W)
        out = [t * keep[:, None].to(t.dtype) for t in out]
    return out


def instance_noise_std(step: int, total: int, start: float) -> float:
    """Standard deviation of the instance noise at ``step``: ``start`` decaying linearly to 0."""
    return start * max(0.0, 1.0 - step / max(1, total))
