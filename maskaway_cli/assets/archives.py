"""Safe extraction of zip and tar (gz/bz2/xz) archives.

Every member is checked before anything is written; extraction goes into a temp folder beside the
target, a completion marker is written last, then the folder is renamed into place. A target
without the marker is an interrupted extraction and is redone, never used.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from maskaway_cli.errors import ArchiveError
from maskaway_cli.progress import Reporter, null_reporter

MARKER = ".maskaway-extracted"


@dataclass(frozen=True)
class ArchiveLimits:
    """Refuse archives beyond these: CelebA (202,599 jpgs, ~1.4 GB) sits far inside them."""

    max_members: int = 2_000_000
    max_total_bytes: int = 200 << 30
    max_ratio: float = 200.0  # total uncompressed / archive size; zip bombs reach thousands


def is_extracted(target: Path) -> bool:
    return (target / MARKER).is_file()


def _member_path(name: str, archive: Path) -> PurePosixPath:
    """The member's path relative to the target, or ArchiveError if it would land outside."""
    clean = name.replace("\\", "/")
    path = PurePosixPath(clean)
    if clean.startswith("/") or (len(clean) > 1 and clean[1] == ":") or path.is_absolute():
        raise ArchiveError(f"{archive.name}: member {name!r} has an absolute path; refusing to extract")
    if ".." in path.parts:
        raise ArchiveError(f"{archive.name}: member {name!r} climbs out of the target with '..'; refusing")
    return path


def _inside(rel: PurePosixPath) -> bool:
    """True when a '/'-relative path, once '..' are resolved, stays inside the target."""
    depth = 0
    for part in rel.parts:
        depth += -1 if part == ".." else (0 if part == "." else 1)
        if depth < 0:
            return False
    return True


def _check_tar(tar: tarfile.TarFile, archive: Path, limits: ArchiveLimits) -> int:
    total = count = 0
    for member in tar:
        count += 1
        if count > limits.max_members:
            raise ArchiveError(f"{archive.name}: more than {limits.max_members} members; refusing")
        path = _member_path(member.name, archive)
        if member.issym():
            target = member.linkname.replace("\\", "/")
            if target.startswith("/") or not _inside(path.parent / target):
                raise ArchiveError(f"{archive.name}: symlink {member.name!r} -> {member.linkname!r} leaves the target")
        elif member.islnk():
            target = member.linkname.replace("\\", "/")
            if target.startswith("/") or not _inside(PurePosixPath(target)):
                raise ArchiveError(f"{archive.name}: hardlink {member.name!r} -> {member.linkname!r} leaves the target")
        elif not (member.isfile() or member.isdir()):
            raise ArchiveError(f"{archive.name}: member {member.name!r} is a device file or FIFO; refusing")
        total += member.size if member.isfile() else 0
        _check_size(total, archive, limits)
    tar.members = []  # let the checked listing be garbage; extraction re-reads the stream
    return count


def _check_size(total: int, archive: Path, limits: ArchiveLimits) -> None:
    if total > limits.max_total_bytes:
        raise ArchiveError(f"{archive.name}: unpacks to more than {limits.max_total_bytes} bytes; refusing")
    if total > (1 << 20) and total > limits.max_ratio * max(1, archive.stat().st_size):
        raise ArchiveError(
            f"{archive.name}: compression ratio above {limits.max_ratio:.0f}:1 (a zip bomb?); refusing"
        )


def _check_zip(zf: zipfile.ZipFile, archive: Path, limits: ArchiveLimits) -> int:
    infos = zf.infolist()
    if len(infos) > limits.max_members:
        raise ArchiveError(f"{archive.name}: more than {limits.max_members} members; refusing")
    total = 0
    for info in infos:
        _member_path(info.filename, archive)
        mode = info.external_attr >> 16
        # Zips written on Unix may carry a file type; many carry only permission bits (type 0).
        if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise ArchiveError(f"{archive.name}: member {info.filename!r} is a link or special file; refusing")
        total += info.file_size
        _check_size(total, archive, limits)
    return len(infos)


def _extract_zip(zf: zipfile.ZipFile, tmp: Path, limits: ArchiveLimits, reporter: Reporter) -> None:
    written = 0
    for info in zf.infolist():
        out = tmp / _member_path(info.filename, Path(zf.filename or "zip"))
        if info.is_dir():
            out.mkdir(parents=True, exist_ok=True)
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        # Sizes in the header can lie: count what actually comes out.
        with zf.open(info) as src, out.open("wb") as dst:
            while chunk := src.read(1 << 20):
                written += len(chunk)
                if written > limits.max_total_bytes:
                    raise ArchiveError(f"{zf.filename}: unpacks to more than its header says; refusing")
                dst.write(chunk)
        reporter("advance", task="extract", n=1)


def extract(archive: Path, target: Path, *, kind: str, limits: ArchiveLimits = ArchiveLimits(), reporter: Reporter = null_reporter) -> Path:
    """Extract ``archive`` (``zip`` or ``tar[.gz|.bz2|.xz]``) so that ``target`` holds its members.

    Returns ``target``. Raises ArchiveError (with nothing written outside a temp folder beside
    ``target``, which is removed) when a member is unsafe or a limit is exceeded.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.extracting")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        count = _extract_into(archive, tmp, kind, limits, reporter)
        (tmp / MARKER).write_text(f"{archive.name}\n{count}\n")
        if target.exists():
            shutil.rmtree(target)  # a half-done extraction or a --force redo
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _extract_into(archive: Path, tmp: Path, kind: str, limits: ArchiveLimits, reporter: Reporter) -> int:
    tmp.mkdir(parents=True)
    try:
        if kind == "zip":
            with zipfile.ZipFile(archive) as zf:
                count = _check_zip(zf, archive, limits)
                reporter("begin", task="extract", total=count, description=f"extract {archive.name}")
                _extract_zip(zf, tmp, limits, reporter)
        elif kind.startswith("tar"):
            mode = {"tar": "r:", "tar.gz": "r:gz", "tar.bz2": "r:bz2", "tar.xz": "r:xz"}[kind]
            with tarfile.open(archive, mode) as tar:
                count = _check_tar(tar, archive, limits)
            reporter("begin", task="extract", total=count, description=f"extract {archive.name}")
            with tarfile.open(archive, mode) as tar:
                # The "data" filter repeats our checks inside tarfile itself (defence in depth).
                tar.extractall(tmp, filter="data")
            reporter("advance", task="extract", n=count)
        else:
            raise ArchiveError(f"{archive.name}: unknown archive format {kind!r}")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise ArchiveError(f"{archive.name}: corrupt or unreadable archive ({exc})") from None
    finally:
        reporter("end", task="extract")
    return count
