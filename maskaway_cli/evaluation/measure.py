"""Measure inpainted images against the ground truth, and the classical baseline to compare with.

Every result is compared with the unmasked original twice: over the whole image and inside the TRUE
mask. The in-mask numbers are the honest ones: outside the mask the pipeline copies pixels through, so
whole-image numbers are flattered by how small the mask is.
"""

from __future__ import annotations

import numpy as np

TELEA_RADIUS = 3  # px: OpenCV's suggested neighbourhood; larger only blurs more on 64-256 px faces
METRICS = ("full_l1", "full_psnr", "full_ssim", "mask_l1", "mask_psnr", "mask_ssim", "mask_sharpness")


def to_tensor(images: np.ndarray):
    """(B,H,W,3) uint8 RGB -> (B,3,H,W) float32 in [0,1]."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255  # (B,3,H,W)


def mask_tensor(masks: np.ndarray):
    """(B,H,W) bool or {0,1} -> (B,1,H,W) float32 in {0,1}."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(masks, dtype=np.float32))[:, None]  # (B,1,H,W)


def image_metrics(result: np.ndarray, truth: np.ndarray, true_mask: np.ndarray, *,
                  sharpness_scale: float = 1.0) -> dict[str, np.ndarray]:
    """Per-image L1, PSNR (dB) and SSIM, whole image and inside ``true_mask``, and the sharpness ratio
    inside it (Laplacian variance of result / truth, after resizing both by ``sharpness_scale``: 0.5 on
    photos, where the finest band is mostly sensor and JPEG noise).

    result, truth: (B,H,W,3) uint8 RGB; true_mask: (B,H,W) bool. Returns ``{metric: (B,) float64}`` keyed
    by :data:`METRICS`; in-mask values are NaN for an image whose true mask is empty.
    """
    from maskaway_cli.metrics.image import l1, psnr, sharpness_ratio, ssim_map

    a, b, m = to_tensor(result), to_tensor(truth), mask_tensor(true_mask)  # (B,3,H,W), (B,3,H,W), (B,1,H,W)
    out = {"mask_sharpness": sharpness_ratio(*_resized(a, b, m, sharpness_scale)).double().numpy()}
    for name, fn in (("l1", l1), ("psnr", psnr)):
        out[f"full_{name}"] = fn(a, b).double().numpy()
        out[f"mask_{name}"] = fn(a, b, m).double().numpy()
    # One SSIM map serves both figures (it is most of the metric cost); same averaging as metrics.image.ssim.
    smap = ssim_map(a, b).double()  # (B,3,H,W)
    w = m.double().expand_as(smap)
    out["full_ssim"] = smap.flatten(1).mean(1).numpy()
    out["mask_ssim"] = ((smap * w).flatten(1).sum(1) / w.flatten(1).sum(1)).numpy()  # 0/0 -> NaN: empty mask
    return out


def _resized(a, b, m, scale: float):
    """Images (area averaging) and mask (kept where it covers half a pixel or more) at ``scale``."""
    import torch.nn.functional as F

    if scale == 1.0:
        return a, b, m
    size = [max(1, round(a.shape[-2] * scale)), max(1, round(a.shape[-1] * scale))]
    down = lambda t: F.interpolate(t, size=size, mode="area")  # noqa: E731
    return down(a), down(b), (down(m) >= 0.5).float()


def telea(masked: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Classical inpainting baseline (Telea 2004) of ``mask`` in ``masked``.

    masked: (H,W,3) uint8 RGB; mask: (H,W) bool or {0,1}. Returns (H,W,3) uint8 RGB.
    """
    import cv2

    # cv2.inpaint is channel-order agnostic (each channel is filled the same way), so RGB goes in as is.
    return cv2.inpaint(np.ascontiguousarray(masked), mask.astype(np.uint8), TELEA_RADIUS, cv2.INPAINT_TELEA)
