"""The cache's bookkeeping: per-asset locks and records of verified files.

A record (``cache_dir()/.records/NAME.json``) lists each file an asset installed with its sha256 and
size; it is written only after every file verified, so "cached" means "verified once". Locks live in
``cache_dir()/.locks`` so two processes fetching one asset take turns instead of racing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from maskaway_cli import paths
from maskaway_cli.progress import Reporter, null_reporter


def records_dir() -> Path:
    return paths.cache_dir() / ".records"


def record_path(name: str) -> Path:
    return records_dir() / f"{name}.json"


def read_record(name: str) -> dict[str, Any] | None:
    try:
        data = json.loads(record_path(name).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("files"), list) else None


def write_record(name: str, record: dict[str, Any]) -> None:
    path = record_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=2))
    os.replace(tmp, path)


def drop_record(name: str) -> None:
    record_path(name).unlink(missing_ok=True)


@contextlib.contextmanager
def locked(key: str, reporter: Reporter = null_reporter) -> Iterator[None]:
    """Hold an exclusive inter-process lock named by ``key`` (e.g. a destination path)."""
    folder = paths.cache_dir() / ".locks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".lock")
    with path.open("a+b") as fh:
        if not _try_lock(fh):
            reporter("note", text=f"waiting for another maskaway process to finish {Path(key).name} ...")
            _lock(fh)
        try:
            yield
        finally:
            _unlock(fh)


try:
    import fcntl

    def _try_lock(fh: Any) -> bool:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def _lock(fh: Any) -> None:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)

    def _unlock(fh: Any) -> None:
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

except ImportError:  # Windows
    import msvcrt

    def _try_lock(fh: Any) -> bool:
        try:
            fh.seek(0)
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _lock(fh: Any) -> None:
        while not _try_lock(fh):
            time.sleep(0.5)

    def _unlock(fh: Any) -> None:
        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)
