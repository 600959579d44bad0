"""Read a dataset folder in either layout and list its samples with their split.

Our layout (``maskaway generate``): ``original/``, ``masked/``, ``binary/``, ``manifest.jsonl``,
``dataset.json``. The original MaskAway release: ``orig/``, ``mask/``, ``binary/`` with matching file
names and no manifest; its split is derived from a hash of the file name, so it is the same on
every machine and does not move when files are added.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from maskaway_cli.errors import DatasetError

SPLITS = ("train", "val", "test")
OURS = {"masked": "masked", "original": "original", "binary": "binary"}
RELEASE = {"masked": "mask", "original": "orig", "binary": "binary"}
IMAGE_EXTS = (".png", ".jpg", ".jpeg")


@dataclass(frozen=True)
class Sample:
    id: str
    split: str
    masked: Path
    original: Path
    binary: Path


@dataclass(frozen=True)
class DatasetIndex:
    root: Path
    layout: str  # "maskaway" | "release"
    samples: tuple[Sample, ...]

    def split(self, name: str) -> list[int]:
        """Indices (into ``samples``) of one split."""
        return [i for i, s in enumerate(self.samples) if s.split == name]


def hash_split(name: str, *, val: float = 0.05, test: float = 0.05) -> str:
    """Deterministic split from a file name: 90/5/5 by default."""
    u = int.from_bytes(hashlib.sha1(name.encode()).digest()[:8], "big") / 2**64
    return "test" if u < test else "val" if u < test + val else "train"


def _files(folder: Path) -> dict[str, Path]:
    return {p.stem: p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS and p.is_file()}


def read_manifest(path: Path) -> dict[str, str]:
    """id -> split from ``manifest.jsonl``; a line that does not parse (a crash mid-write) is skipped."""
    splits: dict[str, str] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                doc = json.loads(line)
                sid, split = str(doc["id"]), str(doc.get("split", ""))
            except (ValueError, KeyError, TypeError):
                continue
            splits[sid] = split if split in SPLITS else hash_split(sid)
    return splits


def detect_layout(root: Path) -> dict[str, str]:
    if all((root / d).is_dir() for d in OURS.values()):
        return OURS
    if all((root / d).is_dir() for d in RELEASE.values()):
        return RELEASE
    raise DatasetError(
        f"{root}: not a dataset (expected original/, masked/, binary/ from 'maskaway generate', "
        "or orig/, mask/, binary/ of the MaskAway release)")


def read_dataset(root: Path) -> DatasetIndex:
    """List every complete triplet of a dataset, sorted by id."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset folder not found: {root}")
    dirs = detect_layout(root)
    found = {key: _files(root / d) for key, d in dirs.items()}
    ids = sorted(set(found["masked"]) & set(found["original"]) & set(found["binary"]))
    manifest = root / "manifest.jsonl"
    if dirs is OURS and manifest.is_file():
        splits = read_manifest(manifest)
        ids = [i for i in ids if i in splits]  # files without a manifest line were never finished
    else:
        splits = {i: hash_split(i) for i in ids}
    if not ids:
        raise DatasetError(f"{root}: no complete samples (masked + original + binary with the same name)")
    samples = tuple(Sample(i, splits[i], found["masked"][i], found["original"][i], found["binary"][i])
                    for i in ids)
    return DatasetIndex(root, "maskaway" if dirs is OURS else "release", samples)


def declared_size(root: Path) -> int | None:
    """The image size written in ``dataset.json``, if any."""
    path = Path(root) / "dataset.json"
    try:
        return int(json.loads(path.read_text(encoding="utf-8"))["size"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def pick_samples(records: list[dict], n: int) -> list[dict]:
    """Up to ``n`` records, taken round-robin over mask types so every type shows up."""
    by_type: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_type[str(r.get("mask_type"))].append(r)
    queues = [list(v) for _, v in sorted(by_type.items())]
    picked: list[dict] = []
    while len(picked) < n and any(queues):
        for q in queues:
            if q and len(picked) < n:
                picked.append(q.pop(0))
    return picked
