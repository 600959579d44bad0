"""Paste an edited face crop back into its photo, touching only the region that was edited.

The edited crop is warped back with the inverse alignment (bicubic, since the crop is usually much
smaller than the face in the photo), the crop's mask is dilated and feathered inwards, the new pixels are
shifted to the colour and brightness of the real skin just around the mask, and blended. Every pixel
outside the dilated mask keeps its input value bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from maskaway_cli.faces.align import invert, transform_points

# Fractions of the crop side, converted to photo pixels per face, so big and small faces look alike.
DILATE = 0.03  # grow the predicted mask to cover its anti-aliased border and loops
FEATHER = 0.05  # width of the soft edge, inside the dilated mask
RING = 0.04  # width of the skin bands either side of the mask edge compared for colour matching
MAX_SHIFT = 24.0  # largest colour correction, in 8-bit levels


@dataclass(frozen=True)
class Pasted:
    rgb: np.ndarray  # (H,W,3) uint8: the photo with the face's edited region blended in
    region: np.ndarray  # (H,W) bool: pixels that may differ from the input (dilated mask)


def paste_back(photo: np.ndarray, crop: np.ndarray, mask: np.ndarray, matrix: np.ndarray) -> Pasted:
    """Blend ``crop`` (S,S,3 uint8, edited) into ``photo`` (H,W,3 uint8) where ``mask`` (S,S, >0 = edited).

    ``matrix`` is the (2,3) photo→crop alignment of ``faces.align``. Returns the new photo and the region
    that may have changed.
    """
    import cv2

    size = crop.shape[0]
    px = _photo_pixels_per_crop_pixel(matrix)
    x0, y0, x1, y1 = _footprint(matrix, size, photo.shape[:2], margin=int(np.ceil((DILATE + FEATHER) * size * px)) + 2)
    out = photo.copy()
    region_full = np.zeros(photo.shape[:2], bool)
    if x1 <= x0 or y1 <= y0:
        return Pasted(out, region_full)
    # crop -> ROI transform: invert the alignment and shift to the ROI origin
    inv = invert(matrix)
    inv[:, 2] -= (x0, y0)
    roi_size = (x1 - x0, y1 - y0)
    new = cv2.warpAffine(crop, inv, roi_size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    hard = cv2.warpAffine((mask > 0).astype(np.float32), inv, roi_size, flags=cv2.INTER_LINEAR) >= 0.5
    region = _dilate(hard, DILATE * size * px)  # (h,w) bool
    weight = _feather(region, FEATHER * size * px)  # (h,w) float32 in [0,1], 0 outside region
    old = photo[y0:y1, x0:x1].astype(np.float32)
    new = _match_colour(new.astype(np.float32), old, region, RING * size * px)
    blended = weight[..., None] * new + (1 - weight[..., None]) * old
    patch = out[y0:y1, x0:x1]
    patch[region] = np.clip(blended[region] + 0.5, 0, 255).astype(np.uint8)
    region_full[y0:y1, x0:x1] = region
    return Pasted(out, region_full)


def _photo_pixels_per_crop_pixel(matrix: np.ndarray) -> float:
    return 1.0 / float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))


def _footprint(matrix, size: int, shape, *, margin: int) -> tuple[int, int, int, int]:
    """Bounding box (x0, y0, x1, y1) in the photo of the crop square, grown by ``margin``, clipped."""
    corners = transform_points(np.array([[0, 0], [size, 0], [0, size], [size, size]], float), invert(matrix))
    h, w = shape
    x0, y0 = np.floor(corners.min(axis=0)).astype(int) - margin
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int) + margin
    return max(0, x0), max(0, y0), min(w, x1), min(h, y1)


def _dilate(mask: np.ndarray, radius: float) -> np.ndarray:
    import cv2

    r = max(1, int(round(radius)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel) > 0


def _feather(region: np.ndarray, width: float) -> np.ndarray:
    """0 on and outside the region's border, rising smoothly to 1 at ``width`` pixels inside."""
    import cv2

    dist = cv2.distanceTransform(region.astype(np.uint8), cv2.DIST_L2, 5)  # (h,w) px to the nearest outside
    t = np.clip(dist / max(width, 1.0), 0.0, 1.0)
    return (t * t * (3 - 2 * t)).astype(np.float32)  # smoothstep: no visible kink at either end


def _match_colour(new: np.ndarray, old: np.ndarray, region: np.ndarray, band: float) -> np.ndarray:
    """Shift ``new`` per channel so the painted skin just inside ``region`` matches the real skin just
    outside it (a model at 64 px gets the overall tone slightly wrong; a seam shows it at once).

    The shift is capped at ``MAX_SHIFT`` levels: a big difference means the bands are not both skin.
    """
    import cv2

    r = max(1, int(round(band)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    inner = region & ~(cv2.erode(region.astype(np.uint8), kernel) > 0)
    outer = (cv2.dilate(region.astype(np.uint8), kernel) > 0) & ~region
    if inner.sum() < 16 or outer.sum() < 16:
        return new
    shift = old[outer].mean(axis=0) - new[inner].mean(axis=0)  # (3,)
    return new + np.clip(shift, -MAX_SHIFT, MAX_SHIFT)
