"""Procedural toy datasets (cartoon faces with a painted mask) in either on-disk layout.

For tests and benchmarks only: they exercise every code path of training without real data.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from maskaway_cli.data.io import save_png


def toy_triplet(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(masked, original) (S,S,3) uint8 RGB and binary (S,S) uint8 in {0,255}."""
    yy, xx = np.mgrid[0:size, 0:size] / size  # (S,S) in [0,1)
    img = np.empty((size, size, 3), np.float32)
    img[:] = rng.uniform(0, 255, 3)  # background
    cx, cy = 0.5 + rng.uniform(-0.05, 0.05), 0.5 + rng.uniform(-0.05, 0.05)
    face = ((xx - cx) / 0.32) ** 2 + ((yy - cy) / 0.42) ** 2 < 1
    img[face] = rng.uniform([150, 100, 80], [255, 200, 170])  # skin
    for ex in (cx - 0.12, cx + 0.12):
        img[((xx - ex) ** 2 + (yy - cy + 0.1) ** 2) < 0.003] = 30  # eyes
    img[(np.abs(xx - cx) < 0.1) & (np.abs(yy - cy - 0.2) < 0.02)] = (150, 40, 40)  # mouth
    img += rng.normal(0, 6, img.shape)
    original = img.clip(0, 255).astype(np.uint8)
    top = cy + rng.uniform(-0.05, 0.05)
    mask = face & (yy > top) | ((np.abs(xx - cx) < 0.36) & (yy > top) & (yy < cy + 0.38))
    masked = original.copy()
    masked[mask] = rng.integers(0, 256, 3)
    return masked, original, mask.astype(np.uint8) * 255


def make_toy_dataset(root: Path, *, n: int = 24, size: int = 64, layout: str = "maskaway", seed: int = 0,
                     splits: tuple[float, float] = (0.75, 0.125)) -> Path:
    """Write ``n`` triplets. ``layout``: "maskaway" (with manifest.jsonl + dataset.json) or "release"."""
    root = Path(root)
    dirs = ("masked", "original", "binary") if layout == "maskaway" else ("mask", "orig", "binary")
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(n):
        sid = f"{i:06d}"
        for d, arr in zip(dirs, toy_triplet(rng, size)):
            save_png(root / d / f"{sid}.png", arr)
        split = "train" if i < n * splits[0] else "val" if i < n * sum(splits) else "test"
        lines.append(json.dumps({"id": sid, "split": split, "mask_type": "toy", "source": "toy"}))
    if layout == "maskaway":
        (root / "manifest.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (root / "dataset.json").write_text(json.dumps({"format_version": 1, "size": size}), encoding="utf-8")
    return root
