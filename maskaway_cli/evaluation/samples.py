"""Which dataset samples are evaluated, their mask types, and loading them in batches at model size."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from maskaway_cli.data.layout import SPLITS, DatasetIndex
from maskaway_cli.errors import MaskAwayError, UsageError
from maskaway_cli.progress import Reporter, null_reporter

UNKNOWN_TYPE = "unknown"  # datasets without a manifest (the release layout) have no mask types


@dataclass(frozen=True)
class EvalSample:
    id: str
    mask_type: str
    masked: Path
    original: Path
    binary: Path


@dataclass(frozen=True)
class Batch:
    ids: list[str]
    types: list[str]
    masked: np.ndarray  # (B,S,S,3) uint8 RGB
    original: np.ndarray  # (B,S,S,3) uint8 RGB
    truth: np.ndarray  # (B,S,S) bool: the true mask
    skipped: list[tuple[str, str]]  # (id, one-line reason) of samples that could not be read


def mask_types(root: Path) -> dict[str, str]:
    """id -> mask type from ``manifest.jsonl`` (empty without one); unparsable lines are skipped."""
    path = Path(root) / "manifest.jsonl"
    types: dict[str, str] = {}
    if not path.is_file():
        return types
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            doc = json.loads(line)
            types[str(doc["id"])] = str(doc.get("mask_type") or UNKNOWN_TYPE)
        except (ValueError, KeyError, TypeError):
            continue
    return types


def choose_split(index: DatasetIndex, requested: str, *, reporter: Reporter = null_reporter) -> tuple[str, list[int]]:
    """The split to evaluate and its sample indices; an empty split falls back to the next non-empty one
    (test, val, train) with a note. ``"all"`` takes every sample."""
    if requested == "all":
        return "all", list(range(len(index.samples)))
    if requested not in SPLITS:
        raise UsageError(f"--split must be one of {', '.join(SPLITS)} or all, not {requested!r}")
    for name in (requested, *(s for s in ("test", "val", "train") if s != requested)):
        chosen = index.split(name)
        if chosen:
            if name != requested:
                caveat = " (training data: numbers look better than on unseen faces)" if name == "train" else ""
                reporter("note", text=f"split '{requested}' of {index.root} has no samples; "
                                      f"evaluating on '{name}' instead{caveat}")
            return name, chosen
    raise UsageError(f"{index.root}: no samples in any split")  # unreachable: read_dataset needs one sample


def select(index: DatasetIndex, indices: list[int], *, limit: int | None) -> list[EvalSample]:
    """The samples to evaluate; ``limit`` takes that many evenly spread over the split (ids are in source
    order, so the first N would all come from a few source photos)."""
    if limit is not None and limit < len(indices):
        picks = np.linspace(0, len(indices) - 1, limit).round().astype(int)
        indices = [indices[i] for i in picks]
    types = mask_types(index.root)
    return [EvalSample(s.id, types.get(s.id, UNKNOWN_TYPE), s.masked, s.original, s.binary)
            for s in (index.samples[i] for i in indices)]


def load_batch(samples: list[EvalSample], size: int) -> Batch:
    """Read a batch, resized to the models' ``size`` when the dataset was made at another size."""
    from maskaway_cli.data.io import read_binary, read_rgb

    ids, types, masked, original, truth, skipped = [], [], [], [], [], []
    for s in samples:
        try:
            m, o, b = read_rgb(s.masked), read_rgb(s.original), read_binary(s.binary)
            if not m.shape == o.shape == (*b.shape, 3):
                raise MaskAwayError(f"masked {m.shape[:2]}, original {o.shape[:2]} and binary {b.shape} differ in size")
        except MaskAwayError as exc:
            skipped.append((s.id, str(exc).splitlines()[0]))
            continue
        ids.append(s.id)
        types.append(s.mask_type)
        masked.append(_fit(m, size))
        original.append(_fit(o, size))
        truth.append(_fit(b, size) > 0)
    if not ids:
        empty = np.zeros((0, size, size, 3), np.uint8)
        return Batch([], [], empty, empty, np.zeros((0, size, size), bool), skipped)
    return Batch(ids, types, np.stack(masked), np.stack(original), np.stack(truth), skipped)


def _fit(img: np.ndarray, size: int) -> np.ndarray:
    import cv2

    if img.shape[0] == img.shape[1] == size:
        return img
    # Masks keep hard edges (nearest); photos shrink with area averaging, grow with cubic.
    if img.ndim == 2:
        return cv2.resize(img, (size, size), interpolation=cv2.INTER_NEAREST)
    interp = cv2.INTER_AREA if img.shape[0] > size else cv2.INTER_CUBIC
    return cv2.resize(img, (size, size), interpolation=interp)
