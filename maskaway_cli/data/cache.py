"""The packed cache: a dataset decoded once into uint8 arrays that are memory-mapped for training.

Decoding PNGs per batch costs more than a small U-Net step on a CPU, so every sample is decoded
once into three ``.npy`` files (masked and original (N,S,S,3), binary (N,S,S) in {0,1}) under the
download cache. Training maps them read-only: the OS pages in what is touched, so a 100k-sample
dataset does not have to fit in RAM. A fingerprint of the file names, sizes and modification times
names the cache folder, so a changed dataset gets a fresh cache and a stale one is never read.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from maskaway_cli import paths
from maskaway_cli.data.io import read_binary, read_rgb
from maskaway_cli.data.layout import DatasetIndex, declared_size
from maskaway_cli.errors import DatasetError
from maskaway_cli.progress import Reporter, null_reporter

CACHE_VERSION = 1


@dataclass(frozen=True)
class Packed:
    """Memory-mapped arrays of a whole dataset, rows in ``index.samples`` order."""

    masked: np.ndarray  # (N,S,S,3) uint8 RGB
    original: np.ndarray  # (N,S,S,3) uint8 RGB
    binary: np.ndarray  # (N,S,S) uint8 in {0,1}
    ids: tuple[str, ...]
    splits: tuple[str, ...]
    folder: Path

    @property
    def size(self) -> int:
        return int(self.masked.shape[1])

    def split(self, name: str) -> np.ndarray:
        return np.array([i for i, s in enumerate(self.splits) if s == name], dtype=np.int64)


def fingerprint(index: DatasetIndex) -> str:
    """sha256 over every file's name, size and mtime, plus the split assignment."""
    h = hashlib.sha256(f"v{CACHE_VERSION}|{index.root.resolve()}|{index.layout}".encode())
    for s in index.samples:
        for p in (s.masked, s.original, s.binary):
            st = p.stat()
            h.update(f"{p.name}|{st.st_size}|{st.st_mtime_ns}|".encode())
        h.update(s.split.encode())
    return h.hexdigest()[:24]


def _decode(sample, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    masked, original, binary = read_rgb(sample.masked), read_rgb(sample.original), read_binary(sample.binary)
    for arr in (masked, original, binary):
        if arr.shape[:2] != (size, size):
            raise DatasetError(f"sample {sample.id}: image is {arr.shape[1]}x{arr.shape[0]}, "
                               f"the dataset is {size}x{size}")
    return masked, original, binary


def _build(index: DatasetIndex, folder: Path, size: int, workers: int, reporter: Reporter) -> None:
    # A temp folder of our own: `train seg` and `train gan` started together on a fresh dataset both
    # build the cache, and must not write into (or delete) each other's half-done files.
    tmp = folder.with_name(f"{folder.name}.partial-{os.getpid()}-{threading.get_ident()}")
    _drop_abandoned(folder)
    tmp.mkdir(parents=True)
    try:
        _fill(index, tmp, size, workers, reporter)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if (folder / "index.json").is_file():  # another process finished the same cache first: use theirs
        shutil.rmtree(tmp, ignore_errors=True)
        return
    shutil.rmtree(folder, ignore_errors=True)  # a folder without index.json is a broken leftover
    try:
        os.replace(tmp, folder)  # the folder appears complete or not at all
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (folder / "index.json").is_file():
            raise


def _fill(index: DatasetIndex, tmp: Path, size: int, workers: int, reporter: Reporter) -> None:
    """Decode every sample into three ``.npy`` arrays and ``index.json`` inside ``tmp``."""
    n = len(index.samples)
    arrays = {
        "masked": np.lib.format.open_memmap(tmp / "masked.npy", "w+", np.uint8, (n, size, size, 3)),
        "original": np.lib.format.open_memmap(tmp / "original.npy", "w+", np.uint8, (n, size, size, 3)),
        "binary": np.lib.format.open_memmap(tmp / "binary.npy", "w+", np.uint8, (n, size, size)),
    }
    reporter("begin", task="pack", total=n, unit="img", description="Packing dataset")
    # PIL and zlib release the GIL while decoding, so threads give real parallelism here.
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for i, (m, o, b) in enumerate(pool.map(lambda s: _decode(s, size), index.samples)):
            arrays["masked"][i], arrays["original"][i], arrays["binary"][i] = m, o, b
            reporter("advance", task="pack", n=1)
    reporter("end", task="pack")
    for a in arrays.values():
        a.flush()
    meta = {"version": CACHE_VERSION, "ids": [s.id for s in index.samples],
            "splits": [s.split for s in index.samples], "size": size, "root": str(index.root.resolve())}
    (tmp / "index.json").write_text(json.dumps(meta), encoding="utf-8")


def _drop_abandoned(folder: Path) -> None:
    """Remove temp folders of builds whose process is gone (killed mid-way)."""
    for partial in folder.parent.glob(f"{folder.name}.partial-*"):
        pid = partial.name.rsplit(".partial-", 1)[1].split("-")[0]
        try:
            os.kill(int(pid), 0)
        except (ValueError, ProcessLookupError):
            shutil.rmtree(partial, ignore_errors=True)
        except PermissionError:
            pass  # alive, someone else's


def _drop_stale(root: Path, *, keep: Path, dataset_root: Path) -> None:
    """Delete older caches of the same dataset folder: they can never match its fingerprint again."""
    for other in root.iterdir():
        if other == keep or not (other / "index.json").is_file():
            continue
        try:
            owner = json.loads((other / "index.json").read_text(encoding="utf-8"))["root"]
        except (OSError, ValueError, KeyError):
            continue
        if owner == str(Path(dataset_root).resolve()):
            shutil.rmtree(other, ignore_errors=True)


def open_packed(index: DatasetIndex, *, cache_root: Path | None = None, workers: int = 2,
                reporter: Reporter = null_reporter) -> Packed:
    """Return the packed cache of ``index``, building it first when missing or stale."""
    size = declared_size(index.root) or int(read_rgb(index.samples[0].masked).shape[0])
    root = Path(cache_root) if cache_root is not None else paths.cache_dir() / "packed"
    folder = root / fingerprint(index)
    if not (folder / "index.json").is_file():
        _build(index, folder, size, workers, reporter)
        _drop_stale(root, keep=folder, dataset_root=index.root)
    meta = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    return Packed(map_array(folder / "masked.npy"), map_array(folder / "original.npy"),
                  map_array(folder / "binary.npy"), tuple(meta["ids"]), tuple(meta["splits"]), folder)


def map_array(path: Path) -> np.ndarray:
    """Memory-map a ``.npy`` read-only, advising the kernel that access is random: batches gather
    scattered rows, and the default read-ahead would pull ~10x more pages into memory than used."""
    arr = np.load(path, mmap_mode="r")
    mm = getattr(arr, "_mmap", None)
    if mm is not None and hasattr(mm, "madvise") and hasattr(mmap, "MADV_RANDOM"):
        mm.madvise(mmap.MADV_RANDOM)
    return arr
