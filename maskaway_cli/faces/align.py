"""The one canonical face alignment of MaskAway, and its inverse.

A similarity transform (rotation, uniform scale, translation) maps landmarks that survive a mask (the two
eye centres and the upper nose bridge) onto a fixed template in a square crop. The template keeps the whole
face: measured on UTKFace, in inter-ocular distances (IOD) from the image-left eye, the jaw spans
x = -0.61..1.62 and the chin sits at y = 1.76; with IOD = 0.32 of the crop and the eyes at 35% height,
jaw and chin land at 15–85% width and ~91% height. ``generate``, ``evaluate`` and ``unmask`` all use
``align_face``; ``unalign`` and ``invert`` take crops back into the photo.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from maskaway_cli.faces.landmarks import eye_centres

# Template in unit-square coordinates (multiply by the crop size).
TEMPLATE_LEFT_EYE = (0.34, 0.35)
TEMPLATE_RIGHT_EYE = (0.66, 0.35)
TEMPLATE_BRIDGE_TOP = (0.50, 0.341)  # landmark 27
TEMPLATE_BRIDGE_MID = (0.50, 0.402)  # landmark 28
# The bridge points steady the fit when an eye landmark is off, but the eyes define the frame.
_WEIGHTS = np.array([1.0, 1.0, 0.25, 0.25])


@dataclass(frozen=True)
class AlignedFace:
    crop: np.ndarray  # (S,S,3) uint8 RGB
    matrix: np.ndarray  # (2,3) float64: photo pixel coordinates -> crop pixel coordinates
    landmarks: np.ndarray  # (68,2) float32 in crop coordinates


def template_points(size: int) -> np.ndarray:
    """The template's anchor points ``(4,2)`` for a ``size``×``size`` crop (pixel-centre coordinates)."""
    unit = np.array([TEMPLATE_LEFT_EYE, TEMPLATE_RIGHT_EYE, TEMPLATE_BRIDGE_TOP, TEMPLATE_BRIDGE_MID])
    return unit * size - 0.5


def alignment_matrix(landmarks: np.ndarray, size: int) -> np.ndarray:
    """Weighted least-squares similarity ``(2,3)`` from 68 landmarks to the template at ``size`` px."""
    left, right = eye_centres(landmarks)
    src = np.stack([left, right, landmarks[27], landmarks[28]]).astype(np.float64)  # (4,2)
    dst = template_points(size)  # (4,2)
    return _similarity(src, dst, _WEIGHTS)


def _similarity(src: np.ndarray, dst: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Closed-form weighted similarity (Umeyama without reflection) taking ``src`` onto ``dst``."""
    w = w / w.sum()
    mu_s, mu_d = w @ src, w @ dst
    s, d = src - mu_s, dst - mu_d
    # Complex-number form: dst ≈ z * src, with z = a + ib encoding rotation and scale.
    a = float(w @ (s[:, 0] * d[:, 0] + s[:, 1] * d[:, 1]))
    b = float(w @ (s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]))
    norm = float(w @ (s**2).sum(axis=1))
    a, b = a / norm, b / norm
    rot = np.array([[a, -b], [b, a]])
    return np.hstack([rot, (mu_d - rot @ mu_s)[:, None]])


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a ``(2,3)`` affine matrix to ``(N,2)`` points."""
    return (points @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)


def invert(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a ``(2,3)`` affine matrix (crop -> photo)."""
    rot = np.linalg.inv(matrix[:, :2])
    return np.hstack([rot, -rot @ matrix[:, 2:3]])


def align_face(rgb: np.ndarray, landmarks: np.ndarray, size: int = 64) -> AlignedFace:
    """Crop the face of ``rgb`` (H,W,3 uint8) at ``size``×``size`` in the canonical frame.

    Large faces are first shrunk with area averaging so the final bilinear warp never skips pixels
    (a 600 px face warped straight to 64 px would alias). Outside the photo the edge pixels are repeated.
    """
    import cv2

    matrix = alignment_matrix(landmarks, size)
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))  # crop pixels per photo pixel
    src, pre = _prescale(rgb, matrix, size, scale)
    crop = cv2.warpAffine(src, pre, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return AlignedFace(crop=crop, matrix=matrix, landmarks=transform_points(landmarks, matrix))


def _prescale(rgb: np.ndarray, matrix: np.ndarray, size: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Cut the region the crop needs and area-shrink it to about twice the crop's resolution."""
    import cv2

    if scale >= 0.5:
        return rgb, matrix
    corners = transform_points(np.array([[0, 0], [size, 0], [0, size], [size, size]], float), invert(matrix))
    h, w = rgb.shape[:2]
    x0, y0 = np.floor(corners.min(axis=0)).astype(int) - 2
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int) + 2
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return rgb, matrix
    factor = 2.0 * scale  # shrink so the warp itself only halves the resolution
    out_w, out_h = max(1, round((x1 - x0) * factor)), max(1, round((y1 - y0) * factor))
    region = cv2.resize(rgb[y0:y1, x0:x1], (out_w, out_h), interpolation=cv2.INTER_AREA)
    fx, fy = out_w / (x1 - x0), out_h / (y1 - y0)
    # region pixel centre u maps to photo x = x0 + (u + 0.5) / fx - 0.5
    to_photo = np.array([[1 / fx, 0, x0 + 0.5 / fx - 0.5], [0, 1 / fy, y0 + 0.5 / fy - 0.5]])
    composed = matrix[:, :2] @ to_photo[:, :2]
    return region, np.hstack([composed, (matrix[:, :2] @ to_photo[:, 2] + matrix[:, 2])[:, None]])


def unalign(crop: np.ndarray, matrix: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Warp a crop back into a photo of ``shape`` (H, W).

    Returns the warped image ``(H,W,C)`` and a float32 coverage ``(H,W)`` in [0,1] that is 0 where the crop
    does not reach, so callers blend only where the crop has data.
    """
    import cv2

    h, w = shape
    inv = invert(matrix)
    warped = cv2.warpAffine(crop, inv, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    ones = np.ones(crop.shape[:2], np.float32)
    coverage = cv2.warpAffine(ones, inv, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return warped, coverage
