"""Contact sheets of a generated dataset, for checking by eye that masks sit where they should."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from maskaway_cli.data.layout import pick_samples
from maskaway_cli.errors import DatasetError

TILE = 128  # each image is shown at least this big, whatever the dataset size


def contact_sheet(dataset: Path, out: Path, *, n: int = 64, per_row: int = 4) -> Path:
    """Write a PNG grid of ``n`` triplets: masked | original | binary mask outlined on the original."""
    import cv2

    from maskaway_cli.imageio import load_rgb, save_image

    manifest = Path(dataset) / "manifest.jsonl"
    if not manifest.is_file():
        raise DatasetError(f"{dataset} has no manifest.jsonl")
    records = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    chosen = pick_samples(records, n)
    if not chosen:
        raise DatasetError(f"{dataset} holds no samples")
    cells = []
    for r in chosen:
        masked, original = (load_rgb(Path(dataset) / k / f"{r['id']}.png") for k in ("masked", "original"))
        binary = load_rgb(Path(dataset) / "binary" / f"{r['id']}.png")[:, :, 0] > 127  # (S,S) bool
        overlay = original.copy()
        overlay[binary] = (0.5 * overlay[binary] + [0, 127, 0]).astype(np.uint8)  # green where the mask is
        row = np.concatenate([_tile(masked), _tile(original), _tile(overlay)], axis=1)
        cells.append(cv2.copyMakeBorder(row, 3, 3, 3, 3, cv2.BORDER_CONSTANT, value=(255, 255, 255)))
    while len(cells) % per_row:
        cells.append(np.full_like(cells[0], 255))
    rows = [np.concatenate(cells[i : i + per_row], axis=1) for i in range(0, len(cells), per_row)]
    save_image(out, np.concatenate(rows, axis=0))
    return Path(out)


def _tile(img: np.ndarray) -> np.ndarray:
    import cv2

    if img.shape[0] >= TILE:
        return img
    return cv2.resize(img, (TILE, TILE), interpolation=cv2.INTER_NEAREST)
