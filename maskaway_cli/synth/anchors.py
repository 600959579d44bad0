"""Six mask anchor points and a head-turn estimate from dlib's 68 landmarks.

Landmarks follow iBUG-300W numbering, 0-based, as ``(68,2)`` float ``(x, y)`` pixel coordinates:
jaw 0-16 (0 on the image left), brows 17-26, nose bridge 27-30, lower nose 31-35, eyes 36-41 (image-left
eye) and 42-47, outer lips 48-59, inner lips 60-67.

The anchors follow MaskTheFace's placement, built only from lines and the jaw polyline so they move
with the face under any rotation, translation and scale (the tests check exactly that).
"""

from __future__ import annotations

import numpy as np

from maskaway_cli.errors import FaceError

JAW = slice(0, 17)
NOSE_BRIDGE = slice(27, 31)
LEFT_EYE = slice(36, 42)
RIGHT_EYE = slice(42, 48)
LOWER_LIP_BOTTOM = 57  # lowest point of the outer lower lip
NOSE_TIP = 30
CHIN = 8

TURN_THRESHOLD = 0.2  # |head_turn| above this picks a turned template (about 20-25 degrees of yaw)


def check_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """Validate and return ``(68,2)`` float64 landmarks; FaceError on a wrong shape or non-finite values."""
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.shape != (68, 2):
        raise FaceError(f"expected 68 landmarks of shape (68, 2), got shape {pts.shape}")
    if not np.isfinite(pts).all():
        raise FaceError("landmarks contain NaN or infinite values")
    return pts


def _face_axes(pts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eye midpoint, unit eye direction (image-left eye -> other eye) and unit 'down' (towards the chin)."""
    left, right = pts[LEFT_EYE].mean(axis=0), pts[RIGHT_EYE].mean(axis=0)
    across = right - left
    norm = float(np.hypot(*across))
    if norm < 1e-6:
        raise FaceError("landmarks are degenerate: both eyes at the same place")
    u = across / norm
    down = np.array([-u[1], u[0]])
    mid = (left + right) / 2
    if np.dot(pts[CHIN] - mid, down) < 0:  # mirrored landmark sets: keep 'down' pointing at the chin
        down = -down
    return mid, u, down


def _cross_jaw(jaw: np.ndarray, point: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Where the line through ``point`` along ``u`` crosses the jaw polyline ``jaw`` (K,2), walked in order.

    Takes the first sign change of the signed distance; when the line misses the polyline (extreme poses,
    noisy landmarks) falls back to the jaw point nearest to the line.
    """
    rel = jaw - point  # (K,2)
    s = rel[:, 0] * u[1] - rel[:, 1] * u[0]  # (K,) signed distance to the line
    for i in range(len(s) - 1):
        if s[i] == 0:
            return jaw[i].copy()
        if s[i] * s[i + 1] < 0:
            t = s[i] / (s[i] - s[i + 1])
            return jaw[i] + t * (jaw[i + 1] - jaw[i])
    return jaw[int(np.argmin(np.abs(s)))].copy()


def six_anchors(landmarks: np.ndarray) -> np.ndarray:
    """(68,2) float landmarks -> (6,2) float32 anchors in MaskTheFace order a..f.

    a upper-left, b nose bridge, c upper-right, d lower-left, e chin, f lower-right ('left' = image left).
    a/c: where the eye line lowered by the nose length meets the jaw line; d/f: where the lower-lip line
    (through the lowest lower-lip point, parallel to the eyes) meets the jaw line; b: middle of the nose
    bridge; e: chin, the jaw point lowest along the face's own vertical.
    """
    pts = check_landmarks(landmarks)
    mid, u, down = _face_axes(pts)
    jaw = pts[JAW]  # (17,2)
    nose_len = float(np.hypot(*(pts[27] - pts[NOSE_TIP])))
    cheek_line = mid + down * nose_len
    lip_line = pts[LOWER_LIP_BOTTOM]
    # Walk each half of the jaw from the chin outwards, so the first crossing is the one nearest the chin.
    left_half, right_half = jaw[8::-1], jaw[8:]
    a = _cross_jaw(left_half, cheek_line, u)
    c = _cross_jaw(right_half, cheek_line, u)
    d = _cross_jaw(left_half, lip_line, u)
    f = _cross_jaw(right_half, lip_line, u)
    b = (pts[27] + pts[NOSE_TIP]) / 2
    e = jaw[int(np.argmax(jaw @ down))]
    return np.stack([a, b, c, d, e, f]).astype(np.float32)  # (6,2)


def head_turn(landmarks: np.ndarray) -> float:
    """Signed yaw proxy, about -1..1: < 0 when the face is turned so the nose points to image-left.

    Compares the nose tip's distance (along the eye direction) to each end of the jaw: 0 for a frontal
    face, towards -1 as the nose approaches the image-left jaw end.
    """
    pts = check_landmarks(landmarks)
    _, u, _ = _face_axes(pts)
    nose = pts[NOSE_TIP]
    to_left = float(np.dot(nose - pts[0], u))
    to_right = float(np.dot(pts[16] - nose, u))
    total = to_left + to_right
    if total <= 1e-6:
        raise FaceError("landmarks are degenerate: jaw ends coincide")
    return float(np.clip((to_left - to_right) / total, -1.0, 1.0))


def turn_variant(landmarks: np.ndarray, *, threshold: float = TURN_THRESHOLD) -> str:
    """Template variant for this face: 'left' (nose points to image-left), 'right', or '' (frontal)."""
    turn = head_turn(landmarks)
    if turn < -threshold:
        return "left"
    if turn > threshold:
        return "right"
    return ""


def _unit_face() -> tuple[np.ndarray, np.ndarray]:
    """A plausible mean face in a unit square crop: (68,2) x/y in [0,1] and (68,) depth towards the camera."""
    pts = np.zeros((68, 2))
    ang = np.pi * (1 - np.arange(17) / 16)  # jaw: image-left ear, down round the chin, up to the right ear
    pts[0:17] = np.stack([0.5 + 0.33 * np.cos(ang), 0.40 + 0.50 * np.sin(ang) ** 0.9], axis=1)
    t = np.linspace(0, 1, 5)
    pts[17:22] = np.stack([0.20 + 0.24 * t, 0.31 - 0.05 * np.sin(np.pi * (t * 0.8 + 0.1))], axis=1)
    pts[22:27] = np.stack([1 - pts[21:16:-1, 0], pts[21:16:-1, 1]], axis=1)
    pts[27:31] = np.stack([np.full(4, 0.5), np.linspace(0.38, 0.56, 4)], axis=1)
    pts[31:36] = np.stack([np.linspace(0.44, 0.56, 5), [0.59, 0.60, 0.61, 0.60, 0.59]], axis=1)
    eye = np.array([[-1, 0], [-0.45, -0.35], [0.45, -0.35], [1, 0], [0.45, 0.35], [-0.45, 0.35]])
    pts[36:42] = [0.35, 0.40] + eye * [0.055, 0.055]
    pts[42:48] = [0.65, 0.40] + eye * [0.055, 0.055]
    mouth = np.linspace(np.pi, -np.pi, 13)[:-1]  # 48 left corner, over the top, back along the bottom
    pts[48:60] = np.stack([0.5 + 0.10 * np.cos(mouth), 0.73 - 0.045 * np.sin(mouth)], axis=1)
    inner = np.linspace(np.pi, -np.pi, 9)[:-1]
    pts[60:68] = np.stack([0.5 + 0.085 * np.cos(inner), 0.73 - 0.015 * np.sin(inner)], axis=1)
    # Depth: the face as a vertical cylinder, with the nose standing out of it.
    depth = np.sqrt(np.clip(0.36**2 - (pts[:, 0] - 0.5) ** 2, 0, None))
    depth[27:36] += np.array([0.02, 0.05, 0.08, 0.11, 0.05, 0.07, 0.09, 0.07, 0.05])
    return pts, depth


def mean_face_landmarks(size: int, *, yaw: float = 0.0) -> np.ndarray:
    """A plausible (68,2) float32 landmark set for a face filling an SxS aligned crop.

    ``yaw`` in radians turns the head about the vertical axis (orthographic projection of a simple depth
    model); negative turns the nose towards image-left, matching the sign of ``head_turn``.
    """
    pts, depth = _unit_face()
    x = 0.5 + (pts[:, 0] - 0.5) * np.cos(yaw) + depth * np.sin(yaw)
    out = np.stack([x, pts[:, 1]], axis=1) * size  # (68,2) pixels
    return out.astype(np.float32)
