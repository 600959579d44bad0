"""The few image reads and writes the data and training code needs, in one place.

RGB reads go through ``maskaway_cli.imageio.load_rgb`` (EXIF, modes, size limits) when that module is
present; the PIL fallback keeps this package usable on its own.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from maskaway_cli.errors import ImageError

MAX_PIXELS = 4096 * 4096  # dataset images are small crops; anything bigger is not one of ours


def _open(path: Path):
    from PIL import Image

    try:
        img = Image.open(path)
        if img.width * img.height > MAX_PIXELS:
            raise ImageError(f"{path}: image too large ({img.width}x{img.height})")
        img.load()
        return img
    except ImageError:
        raise
    except Exception as exc:  # PIL raises many types for unreadable files
        raise ImageError(f"{path}: cannot read image ({exc})") from None


def read_rgb(path: Path) -> np.ndarray:
    """(H,W,3) uint8 RGB."""
    try:
        from maskaway_cli.imageio import load_rgb
    except ImportError:
        return np.asarray(_open(path).convert("RGB"), dtype=np.uint8)
    return load_rgb(path)


def read_binary(path: Path) -> np.ndarray:
    """(H,W) uint8 in {0,1}: 1 where the mask is (pixel > 127 in the L-mode file)."""
    return (np.asarray(_open(path).convert("L")) > 127).astype(np.uint8)


def save_png(path: Path, array: np.ndarray) -> None:
    """Write an (H,W,3) or (H,W) uint8 array as PNG atomically (temp file + rename)."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    Image.fromarray(array).save(tmp, format="PNG")
    os.replace(tmp, path)
