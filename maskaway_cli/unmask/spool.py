"""Photo pixels between worker processes without passing through the main process.

A 1350×1350 photo is 5.5 MB. Sent by value it is pickled in the worker that loaded it, piped to the main
process, unpickled, pickled again and piped to the worker that pastes the faces back: four copies and two
pipe transfers per photo, on the very cores the workers need. Instead stage A writes the raw pixels to a
spool folder that the main process made for the run, and sends only the file's name; stage B reads them
back and deletes the file. Files are read back within seconds, so they normally live in the page cache
and never reach the disk.

Plain files rather than shared memory: a full /dev/shm (64 MB in a default Docker container) kills the
writer with SIGBUS, while a full disk is an ordinary OSError, after which the pixels simply go by value.
The main process deletes the whole folder at the end, so a run stopped early leaves nothing behind.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_COUNTER = itertools.count()


@dataclass(frozen=True)
class Spooled:
    """Where an array was spooled, with its shape and dtype."""

    path: str
    shape: tuple[int, ...]
    dtype: str


def spool(array: np.ndarray, folder: Path) -> Spooled | None:
    """Write ``array``'s bytes to a new file in ``folder``; None (nothing left behind) when that fails."""
    path = folder / f"{os.getpid()}-{next(_COUNTER)}.raw"
    try:
        with open(path, "wb") as f:
            f.write(memoryview(np.ascontiguousarray(array)).cast("B"))
    except OSError:
        path.unlink(missing_ok=True)
        return None
    return Spooled(str(path), tuple(array.shape), array.dtype.str)


def unspool(ref: Spooled) -> np.ndarray:
    """Read the array back and delete its file. Raises OSError when the file is gone."""
    try:
        array = np.fromfile(ref.path, dtype=np.dtype(ref.dtype))
    finally:
        Path(ref.path).unlink(missing_ok=True)
    return array.reshape(ref.shape)
