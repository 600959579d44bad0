"""Things near a face that are not a mask: a scarf below the chin, a microphone by the mouth, a beard,
a hand over the mouth.

A segmenter that has only seen masks on the lower face calls anything there a mask. These are drawn
on faces that get no mask (``generate --lookalike P`` on the ``--bare`` share), on the original and
the "masked" image alike, with an empty binary: the segmenter learns that cloth under the chin and a
dark object by the mouth leave the face as it is. A beard covers the very region a mask does, but
its hair lets the lips through; a hand is skin of the face's own tone, in fingers.
"""

from __future__ import annotations

import numpy as np

from maskaway_cli.synth import appearance

KINDS = ("scarf", "microphone", "beard", "hand")
JAW = slice(0, 17)
LIPS = slice(48, 60)  # the outer lip line
HAIR = ((28, 22, 20), (58, 40, 30), (96, 66, 44), (140, 78, 42), (132, 128, 124))  # black .. ginger, grey


def draw(face: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """``face`` (S,S,3) uint8 with one look-alike drawn on it, and its manifest fields."""
    kind = KINDS[int(rng.integers(len(KINDS)))]
    drawer = {"scarf": _scarf, "microphone": _microphone, "beard": _beard, "hand": _hand}[kind]
    return drawer(face, landmarks, rng), {"lookalike": kind}


def _fill(poly: np.ndarray, shape: tuple[int, int], soft: float) -> np.ndarray:
    """(H,W) float32 coverage of a polygon (crop px), anti-aliased and blurred by ``soft`` px."""
    import cv2

    area = np.zeros(shape, np.float32)
    cv2.fillPoly(area, [np.round(poly * 4).astype(np.int32)], 1.0, lineType=cv2.LINE_AA, shift=2)
    return cv2.GaussianBlur(area, (0, 0), sigmaX=soft) if soft > 0 else area


def _scarf(face: np.ndarray, lm: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Cloth from a little below the jaw line down off the crop: it never reaches the chin or mouth."""
    import cv2

    s = face.shape[0]
    jaw = lm[JAW].astype(np.float32)  # (17,2)
    centre = lm[30].astype(np.float32)  # the nose tip: the jaw is pushed away from it, so it clears the face
    top = centre + (jaw[2:15] - centre) * (1 + rng.uniform(0.12, 0.3))  # (13,2) the scarf's upper edge
    poly = np.concatenate([top, [[top[-1, 0] + s * 0.2, s * 1.2], [top[0, 0] - s * 0.2, s * 1.2]]])
    area = _fill(poly, face.shape[:2], soft=0.7)
    colour = appearance.random_color(rng)
    texture = appearance.TEXTURES[int(rng.integers(len(appearance.TEXTURES)))] if rng.random() < 0.5 else None
    cloth = (appearance.texture_rgb(texture, s, s, colour) if texture else np.full((s, s, 3), colour, np.float32))
    folds = 1 + 0.12 * np.sin(np.linspace(0, rng.uniform(6, 14), s, dtype=np.float32))[None, :, None]
    light = 0.75 + 0.35 * np.linspace(1, 0, s, dtype=np.float32)[:, None, None]  # darker lower down
    a = area[..., None]
    blend = face.astype(np.float32) * (1 - a) + np.clip(cloth * folds * light, 0, 255) * a
    return np.clip(np.round(blend), 0, 255).astype(np.uint8)


def _microphone(face: np.ndarray, lm: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A dark handheld microphone below one corner of the mouth: a ball of mesh on a handle."""
    import cv2

    s = face.shape[0]
    side = 1 if rng.random() < 0.5 else -1
    corner = lm[54] if side > 0 else lm[48]  # the mouth corner on that side
    mouth_w = float(np.hypot(*(lm[54] - lm[48])))
    r = mouth_w * rng.uniform(0.35, 0.5)
    cx, cy = corner[0] + side * r * rng.uniform(0.6, 1.2), corner[1] + r * rng.uniform(1.2, 2.0)
    grey = float(rng.uniform(25, 70))
    out = face.astype(np.float32)
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32)
    handle = np.zeros((s, s), np.float32)
    end = (cx + side * r * 1.5, cy + r * 5)
    cv2.line(handle, (int(cx * 4), int(cy * 4)), (int(end[0] * 4), int(end[1] * 4)), 1.0,
             max(1, int(r * 1.1)) * 4 // 4, lineType=cv2.LINE_AA, shift=2)
    ball = np.clip(r - np.hypot(xx - cx, yy - cy), 0, 1)  # (S,S) anti-aliased disc
    mesh = 1 + 0.25 * ((np.sin(xx * 2.2) * np.sin(yy * 2.2)) > 0)  # a grille's checker of light
    shade = 1.4 - 0.6 * np.clip((yy - (cy - r)) / (2 * r), 0, 1)  # lit from above
    for part, tone in ((handle, grey * 0.8), (ball, grey * mesh * shade)):
        a = part[..., None]
        out = out * (1 - a) + np.asarray(tone, np.float32)[..., None] * a
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def _beard(face: np.ndarray, lm: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Hair over the jaw, chin and upper lip, from stubble to a full beard; the lips show through."""
    import cv2

    s = face.shape[0]
    jaw = lm[JAW].astype(np.float32)  # (17,2)
    nose_base = lm[31:36].astype(np.float32)  # (5,2) under the nose, left to right
    top = nose_base + [0, 0.25 * (lm[51, 1] - lm[33, 1])]  # the moustache's upper edge, just under it
    poly = np.concatenate([jaw[2:15], top[::-1]])  # along the jaw, then back under the nose
    region = _fill(poly, face.shape[:2], soft=s * 0.015)
    lips = _fill(lm[LIPS].astype(np.float32), face.shape[:2], soft=s * 0.006)
    # hair as streaks: noise long along the face's vertical, thin across it
    streaks = cv2.GaussianBlur(rng.standard_normal((s, s)).astype(np.float32), (0, 0), sigmaX=0.6, sigmaY=2.2)
    streaks /= streaks.std() + 1e-6  # (S,S) ~unit
    density = rng.uniform(0.3, 0.55) if rng.random() < 0.4 else rng.uniform(0.75, 0.95)  # stubble | beard
    alpha = np.clip(region * (1 - lips) * density * (0.85 + 0.15 * streaks), 0, 1)[..., None]  # (S,S,1)
    colour = np.array(HAIR[int(rng.integers(len(HAIR)))], np.float32) * rng.uniform(0.85, 1.15)
    hair = colour * (1 + 0.18 * streaks[..., None])  # (S,S,3)
    out = face.astype(np.float32) * (1 - alpha) + hair * alpha
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def _skin_tone(face: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """(3,) float32: the median colour of both cheeks, between the jaw and the nose."""
    samples = []
    r = max(2, face.shape[0] // 40)
    for jaw_i, nose_i in ((3, 31), (13, 35)):
        x, y = np.round((lm[jaw_i] + lm[nose_i]) / 2).astype(int)
        patch = face[max(0, y - r): y + r + 1, max(0, x - r): x + r + 1]
        samples.append(patch.reshape(-1, 3))
    return np.median(np.concatenate(samples), axis=0).astype(np.float32)


def _hand(face: np.ndarray, lm: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A hand in the face's own skin tone over the mouth: four fingers across it, coming in from one
    side, with dark creases between them and the palm below, off the crop."""
    import cv2

    s, shape = face.shape[0], face.shape[:2]
    mouth_w = float(np.hypot(*(lm[54] - lm[48])))
    side = 1 if rng.random() < 0.5 else -1  # the fingertips point this way
    finger_w = mouth_w * rng.uniform(0.3, 0.38)
    start_y = lm[51, 1] - finger_w * rng.uniform(0.3, 1.2)  # the top finger over the upper lip or nose base
    centre_x = (lm[48, 0] + lm[54, 0]) / 2
    root_x = centre_x - side * mouth_w * rng.uniform(0.9, 1.3)  # the knuckles, on the other cheek
    cover, creases = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
    q = lambda x, y: (int(round(x * 4)), int(round(y * 4)))  # noqa: E731  (cv2's shift=2 fixed point)
    for k in range(4):  # the little finger lowest and shortest
        y = start_y + k * finger_w
        tip_x = centre_x + side * mouth_w * (rng.uniform(0.5, 0.9) - 0.12 * k)
        thick = max(1, int(round(finger_w * 0.92 * 4)))
        cv2.line(cover, q(root_x, y), q(tip_x, y), 1.0, thick, lineType=cv2.LINE_AA, shift=2)
        cv2.circle(cover, q(tip_x, y), int(round(finger_w * 0.46 * 4)), 1.0, -1, lineType=cv2.LINE_AA, shift=2)
        if k:
            cv2.line(creases, q(root_x - side * mouth_w * 0.3, y - finger_w / 2), q(tip_x, y - finger_w / 2),
                     1.0, 3, lineType=cv2.LINE_AA, shift=2)
    palm_top = start_y + 3.3 * finger_w
    back_x = root_x - side * mouth_w * 0.4  # the back of the hand, towards the wrist
    palm = np.array([[back_x, start_y - finger_w / 2], [root_x + side * mouth_w * 0.2, palm_top],
                     [root_x + side * mouth_w * 0.1, s * 1.2], [back_x - side * s, s * 1.2],
                     [back_x - side * s, start_y]], np.float32)
    cover = cv2.GaussianBlur(np.maximum(cover, _fill(palm, shape, soft=0)), (0, 0), sigmaX=0.6)
    creases = cv2.GaussianBlur(creases, (0, 0), sigmaX=max(0.6, finger_w * 0.08))
    tone = _skin_tone(face, lm) * (rng.uniform(0.95, 1.1) * rng.uniform(0.97, 1.03, size=3)).astype(np.float32)
    # lit from above: the top of each finger a little brighter than its underside
    rows = np.arange(s, dtype=np.float32)[:, None]
    light = 1.0 + 0.07 * np.cos(2 * np.pi * (rows - start_y) / finger_w) - 0.3 * creases  # (S,S)
    a = cover[..., None]
    out = face.astype(np.float32) * (1 - a) + tone * light[..., None] * a
    return np.clip(np.round(out), 0, 255).astype(np.uint8)
