"""Turning ``SRC...`` arguments into an ordered list of images: files, folders, zip and tar archives.

The order is deterministic (arguments as given, folders walked in sorted order) because dataset ids and
resumption depend on it. Archive members are read by the caller through ``read_source``.
"""

from __future__ import annotations

import os
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".ppm", ".pgm"})
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
MAX_MEMBER_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Source:
    name: str  # stable display name, also the grouping key for splits: "dir/a.jpg" or "pack.zip/a.jpg"
    path: Path  # the file on disk (the archive itself for members)
    member: str | None = None  # member name inside an archive


@dataclass(frozen=True)
class Skipped:
    name: str
    reason: str
    error: bool = True  # False for skips that are not failures (e.g. no face found)


def is_archive(path: Path) -> bool:
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


def collect_sources(inputs: list[Path]) -> tuple[list[Source], list[Skipped]]:
    """Expand ``inputs`` into image sources, and the inputs that could not be used with a reason."""
    sources: list[Source] = []
    skipped: list[Skipped] = []
    for raw in inputs:
        path = Path(raw)
        name = path.as_posix()
        if not path.exists():
            skipped.append(Skipped(name, "no such file or directory"))
        elif path.is_dir():
            sources.extend(_walk(path))
        elif is_archive(path):
            try:
                sources.extend(_archive_members(path))
            except (OSError, zipfile.BadZipFile, tarfile.TarError) as exc:
                skipped.append(Skipped(name, f"unreadable archive ({exc.__class__.__name__}: {exc})"))
        else:
            sources.append(Source(name, path))  # named explicitly: tried whatever its suffix
    return sources, skipped


def walk_files(root: Path, *, recursive: bool = True):
    """Every file under ``root`` in a fixed order: sorted, folder by folder (top level only if not
    ``recursive``)."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fname in sorted(filenames):
            yield Path(dirpath) / fname
        if not recursive:
            break


def _walk(root: Path) -> list[Source]:
    found = []
    for path in walk_files(root):
        if path.suffix.lower() in IMAGE_SUFFIXES:
            found.append(Source(path.as_posix(), path))
        elif is_archive(path):
            try:
                found.extend(_archive_members(path))
            except (OSError, zipfile.BadZipFile, tarfile.TarError):
                continue  # an unrelated broken archive inside a photo folder is not an image
    return found


def _archive_members(path: Path) -> list[Source]:
    if path.name.lower().endswith(".zip"):
        with zipfile.ZipFile(path) as zf:
            names = [i.filename for i in zf.infolist() if not i.is_dir()]
    else:
        with tarfile.open(path) as tf:
            names = [m.name for m in tf.getmembers() if m.isfile()]
    # Archive order, not sorted: a compressed tar can then be read in one forward pass.
    images = [n for n in names if Path(n).suffix.lower() in IMAGE_SUFFIXES]
    return [Source(f"{path.as_posix()}/{n}", path, n) for n in images]


def iter_payloads(sources: list[Source]):
    """Yield ``(source, payload)``: the path of a plain file, or the bytes (or an OSError) of a member.

    Consecutive members of one archive share one open handle, so a .tar.gz is decompressed once.
    """
    handle, handle_path = None, None
    try:
        for source in sources:
            if source.member is None:
                yield source, source.path
                continue
            if handle_path != source.path:
                if handle is not None:
                    handle.close()
                handle, handle_path = _open_archive(source.path), source.path
            try:
                yield source, _read_member(handle, source.member)
            except (OSError, KeyError, zipfile.BadZipFile, tarfile.TarError) as exc:
                yield source, OSError(f"unreadable archive member ({exc})")
    finally:
        if handle is not None:
            handle.close()


def _open_archive(path: Path):
    return zipfile.ZipFile(path) if path.name.lower().endswith(".zip") else tarfile.open(path)


def _read_member(handle, member: str) -> bytes:
    if isinstance(handle, zipfile.ZipFile):
        info = handle.getinfo(member)
        size = info.file_size
    else:
        info = handle.getmember(member)
        size = info.size
    if size > MAX_MEMBER_BYTES:
        raise OSError(f"archive member too large ({size} bytes)")
    if isinstance(handle, zipfile.ZipFile):
        return handle.read(info)
    fh = handle.extractfile(info)
    if fh is None:
        raise OSError("archive member is not a regular file")
    return fh.read()
