"""Things near a face that are not a mask: a scarf below the chin, a microphone by the mouth.

A segmenter that has only seen masks on the lower face calls anything there a mask. These are drawn
on faces that get no mask (``generate --lookalike P`` on the ``--bare`` share), on the original and
the "masked" image alike, with an empty binary: the segmenter learns that cloth under the chin and a
dark object by the mouth leave the face as it is.
"""

from __future__ import annotations

import numpy as np

from maskaway_cli.synth import appearance

KINDS = ("scarf", "microphone")
JAW = slice(0, 17)


def draw(face: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """``face`` (S,S,3) uint8 with one look-alike drawn on it, and its manifest fields."""
    kind = KINDS[int(rng.integers(len(KINDS)))]
    out = _scarf(face, landmarks, rng) if kind == "scarf" else _microphone(face, landmarks, rng)
    return out, {"lookalike": kind}


def _scarf(face: np.ndarray, lm: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Cloth from a little below the jaw line down off the crop: it never reaches the chin or mouth."""
    import cv2

    s = face.shape[0]
    jaw = lm[JAW].astype(np.float32)  # (17,2)
    centre = lm[30].astype(np.float32)  # the nose tip: the jaw is pushed away from it, so it clears the face
    top = centre + (jaw[2:15] - centre) * (1 + rng.uniform(0.12, 0.3))  # (13,2) the scarf's upper edge
    poly = np.concatenate([top, [[top[-1, 0] + s * 0.2, s * 1.2], [top[0, 0] - s * 0.2, s * 1.2]]])
    area = np.zeros(face.shape[:2], np.float32)
    cv2.fillPoly(area, [np.round(poly * 4).astype(np.int32)], 1.0, lineType=cv2.LINE_AA, shift=2)
    area = cv2.GaussianBlur(area, (0, 0), sigmaX=0.7)
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
