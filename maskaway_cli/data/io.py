"""The few image reads and writes the data and training code needs, through ``maskaway_cli.imageio``
(EXIF, modes, size limits, atomic writes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def read_rgb(path: Path) -> np.ndarray:
    """(H,W,3) uint8 RGB."""
    from maskaway_cli.imageio import load_rgb

    return load_rgb(path)


def read_binary(path: Path) -> np.ndarray:
    """(H,W) uint8 in {0,1}: 1 where the mask is (pixel > 127 in the L-mode file)."""
    return (read_rgb(path)[..., 0] > 127).astype(np.uint8)  # L is read as grey RGB


def save_png(path: Path, array: np.ndarray) -> None:
    """Write an (H,W,3) or (H,W) uint8 array as PNG atomically, creating the folder."""
    from maskaway_cli.imageio import save_image

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_image(path, np.ascontiguousarray(array), format="PNG")
