"""The contact sheet: one row per sample, masked | predicted mask | result | ground truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np

TILE = 128  # px: small faces are enlarged (nearest) so a 64 px dataset is still readable
# Predicted-mask column: hits white, false alarms orange, missed mask pixels blue, on black.
HIT, FALSE_ALARM, MISSED = (255, 255, 255), (255, 140, 0), (40, 110, 255)


def mask_view(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """pred, truth: (S,S) bool -> (S,S,3) uint8 RGB showing where the prediction agrees with the truth."""
    out = np.zeros((*pred.shape, 3), np.uint8)
    out[pred & truth] = HIT
    out[pred & ~truth] = FALSE_ALARM
    out[~pred & truth] = MISSED
    return out


def sheet_row(masked: np.ndarray, pred: np.ndarray, truth: np.ndarray, result: np.ndarray,
              original: np.ndarray) -> np.ndarray:
    """(S,S,3) uint8 images and (S,S) bool masks -> one bordered row (T+6, 4T+6, 3) uint8 RGB."""
    import cv2

    tiles = [_tile(x) for x in (masked, mask_view(pred, truth), result, original)]
    return cv2.copyMakeBorder(np.concatenate(tiles, axis=1), 3, 3, 3, 3, cv2.BORDER_CONSTANT, value=(255, 255, 255))


def write_sheet(rows: list[np.ndarray], path: Path, *, per_row: int = 2) -> Path:
    """Lay ``rows`` out ``per_row`` across (white padding at the end) and save a PNG atomically."""
    from maskaway_cli.imageio import save_image

    cells = list(rows)
    while len(cells) % per_row:
        cells.append(np.full_like(cells[0], 255))
    lines = [np.concatenate(cells[i : i + per_row], axis=1) for i in range(0, len(cells), per_row)]
    save_image(path, np.concatenate(lines, axis=0), format="PNG")
    return Path(path)


def _tile(img: np.ndarray) -> np.ndarray:
    import cv2

    if img.shape[0] >= TILE:
        return img
    return cv2.resize(img, (TILE, TILE), interpolation=cv2.INTER_NEAREST)
