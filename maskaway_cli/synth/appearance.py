"""Mask colours and textures, chosen the way MaskTheFace's --color/--pattern options choose them.

Colours are RGB 0-255 triples: a palette name, ``#rrggbb``, or ``random`` (a fresh colour per mask).
Textures are procedural patterns (``stripes``, ``checks``, ``dots``, ``floral``) or any image file; all
are returned as straight RGB float32 (H,W,3) in [0,255], sized to the template they will cover, cached.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from maskaway_cli.errors import ImageError, UsageError

RGB = tuple[int, int, int]

PALETTE: dict[str, RGB] = {
    "white": (240, 240, 240),
    "black": (28, 28, 30),
    "grey": (128, 130, 134),
    "gray": (128, 130, 134),
    "navy": (30, 42, 90),
    "blue": (52, 98, 190),
    "lightblue": (150, 196, 230),
    "teal": (32, 128, 128),
    "green": (60, 140, 70),
    "mint": (170, 220, 190),
    "olive": (110, 112, 50),
    "red": (190, 40, 40),
    "maroon": (110, 28, 36),
    "pink": (236, 160, 186),
    "purple": (110, 60, 150),
    "yellow": (236, 206, 60),
    "orange": (230, 126, 40),
    "brown": (110, 74, 48),
    "beige": (220, 204, 176),
    "khaki": (190, 176, 130),
}
TEXTURES = ("stripes", "checks", "dots", "floral")
RANDOM = "random"
MAX_TEXTURE_PIXELS = 40_000_000
TEXTURE_FG: RGB = (36, 56, 110)  # pattern colour when no colour was chosen for the mask


def parse_color(spec: str) -> RGB | str:
    """A palette name, ``#rrggbb`` (or ``rrggbb``) -> RGB triple; ``random`` -> 'random'; else UsageError."""
    text = spec.strip().lower()
    if text == RANDOM:
        return RANDOM
    if text in PALETTE:
        return PALETTE[text]
    hexpart = text[1:] if text.startswith("#") else text
    if len(hexpart) == 6 and all(ch in "0123456789abcdef" for ch in hexpart):
        return (int(hexpart[0:2], 16), int(hexpart[2:4], 16), int(hexpart[4:6], 16))
    names = ", ".join(sorted(set(PALETTE)))
    raise UsageError(f"unknown colour {spec!r}: use a name ({names}), #rrggbb or random")


def to_hex(color: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*color)


def random_color(rng: np.random.Generator) -> RGB:
    """A colour drawn from ``rng``: uniform hue, moderate saturation, mid to light value (fabric-like)."""
    import colorsys

    h, s, v = rng.random(), 0.25 + 0.6 * rng.random(), 0.35 + 0.6 * rng.random()
    r, g, b = colorsys.hsv_to_rgb(h, s, v)
    return (round(r * 255), round(g * 255), round(b * 255))


def parse_texture(spec: str) -> str:
    """A procedural texture name, or the resolved path of an existing image file; else UsageError."""
    text = spec.strip()
    if text.lower() in TEXTURES:
        return text.lower()
    path = Path(text).expanduser()
    if path.is_file():
        return str(path.resolve())
    raise UsageError(f"unknown texture {spec!r}: use one of {', '.join(TEXTURES)} or an image file path")


@functools.lru_cache(maxsize=32)
def load_texture_image(path: str) -> np.ndarray:
    """(H,W,3) uint8 RGB from an image file; ImageError if unreadable or larger than the pixel limit."""
    from maskaway_cli.imageio import load_rgb

    try:
        return load_rgb(path, max_pixels=MAX_TEXTURE_PIXELS)
    except ImageError as exc:
        raise ImageError(f"cannot read texture image {exc}") from None


def pattern(name: str, height: int, width: int) -> np.ndarray:
    """(H,W) float32 in [0,1]: 1 where the pattern colour shows; period scales with the template width."""
    return _pattern(name, height, width).copy()


@functools.lru_cache(maxsize=256)
def _pattern(name: str, height: int, width: int) -> np.ndarray:
    import cv2

    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    period = max(width / 9.0, 2.0)  # about nine repeats across a mask, whatever its pixel size
    soft = 0.08 * period  # edge width: anti-aliased, so small templates do not shimmer
    if name == "stripes":
        phase = ((xx + yy) / period) % 1.0
        out = np.clip((np.abs(phase - 0.5) - 0.25) / (soft / period) + 0.5, 0, 1)
    elif name == "checks":
        a = np.sin(2 * np.pi * xx / period) * np.sin(2 * np.pi * yy / period)
        out = np.clip(a * period / (2 * np.pi * soft) + 0.5, 0, 1)
    elif name == "dots":
        fx, fy = (xx / period) % 1.0 - 0.5, (yy / period) % 1.0 - 0.5
        r = np.hypot(fx, fy) * period
        out = np.clip((0.25 * period - r) / soft + 0.5, 0, 1)
    elif name == "floral":
        # Blobs of smoothed noise ('petals') from a fixed seed: the texture is the same in every process.
        noise = np.random.default_rng(1234).random((16, 16)).astype(np.float32)
        field = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
        rings = 0.5 + 0.5 * np.sin(field * 14.0)
        out = np.clip((rings - 0.55) * 4, 0, 1)
    else:
        raise UsageError(f"unknown texture {name!r}")
    return out.astype(np.float32)


def texture_rgb(texture: str, height: int, width: int, color: RGB | None) -> np.ndarray:
    """(H,W,3) float32 straight RGB in [0,255] covering a template of that size.

    Procedural patterns are drawn in ``color`` (or a default navy) over a light ground; an image file
    is scaled to cover the template and centre-cropped, its own colours kept.
    """
    if texture in TEXTURES:
        fg = np.array(color or TEXTURE_FG, np.float32)
        bg = np.array((236, 234, 228), np.float32)
        p = _pattern(texture, height, width)[..., None]  # (H,W,1)
        return bg * (1 - p) + fg * p
    return _cover(texture, height, width).astype(np.float32)


@functools.lru_cache(maxsize=128)
def _cover(path: str, height: int, width: int) -> np.ndarray:
    import cv2

    img = load_texture_image(path)  # (h,w,3) uint8
    scale = max(height / img.shape[0], width / img.shape[1])
    h, w = max(height, round(img.shape[0] * scale)), max(width, round(img.shape[1] * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    big = cv2.resize(img, (w, h), interpolation=interp)
    y0, x0 = (h - height) // 2, (w - width) // 2
    return big[y0 : y0 + height, x0 : x0 + width]
