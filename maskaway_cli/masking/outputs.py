"""Where ``maskaway mask`` writes: output names, the manifest, and what an earlier run already did.

``OUT/NAME.EXT`` is the photo wearing masks (same relative path, size and format as the input; formats
Pillow cannot write back become PNG), ``MASKS/NAME.png`` its binary mask (L, 255 on the mask): the
by-name pair that ``unmask --mask-dir`` and IOPaint's batch mode read. ``OUT/manifest.jsonl`` holds
one line per photo, appended only after the photo's files are in place, so a line means "done";
``OUT/mask.json`` holds the options, so a re-run with other options cannot mix two kinds of output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from maskaway_cli import __version__
from maskaway_cli.data.sources import Source, collect_sources, is_archive
from maskaway_cli.errors import DatasetError, UsageError

MANIFEST, INFO = "manifest.jsonl", "mask.json"
FORMAT_VERSION = 1
_WRITABLE = {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".bmp", ".tif", ".tiff"}  # written back as they are


@dataclass(frozen=True)
class PhotoJob:
    source: Source
    name: PurePosixPath  # output path relative to OUT, e.g. 'street/a.jpg'

    def photo(self, variant: str = "") -> PurePosixPath:
        """``a.jpg`` → ``a.jpg``, or ``a_surgical.jpg`` for a variant (``--types all``, ``original``)."""
        return self.name.with_stem(f"{self.name.stem}_{variant}") if variant else self.name

    def mask(self, variant: str = "") -> PurePosixPath:
        return self.photo(variant).with_suffix(".png")


def plan_jobs(sources: tuple[Path, ...], output: Path, mask_dir: Path) -> tuple[list[PhotoJob], list]:
    """Inputs → jobs with unique output names, and the inputs that cannot be used (``Skipped``)."""
    jobs, skipped, taken = [], [], set()
    for raw in sources:
        path = Path(raw)
        if path.is_dir():
            root = path.resolve()
            for target in (output, mask_dir):
                t = target.resolve()
                if t == root or root in t.parents:
                    raise UsageError(f"{target} is inside input folder {path}: choose another place")
        found, bad = collect_sources([path])
        skipped.extend(bad)
        for source in found:
            jobs.append(PhotoJob(source, _unique(_relative(source, path), taken)))
    return jobs, skipped


def _relative(source: Source, given: Path) -> PurePosixPath:
    """The output name: the path below a given folder, the member path of a given archive, else the name."""
    if given.is_dir():
        rel = PurePosixPath(source.name).relative_to(given.as_posix())
    elif is_archive(given) and source.member is not None:
        rel = PurePosixPath(source.member)
    else:
        rel = PurePosixPath(given.name)
    rel = PurePosixPath(*[p for p in rel.parts if p not in ("", ".", "..", "/")])  # never above OUT
    return rel if rel.suffix.lower() in _WRITABLE else rel.with_name(rel.name + ".png")


def _unique(rel: PurePosixPath, taken: set[str]) -> PurePosixPath:
    """A second ``a.jpg`` (or an ``a.png`` beside ``a.jpg``: their masks would share ``a.png``) → ``a-2``."""
    out, n = rel, 2
    while (out.parent / out.stem).as_posix().lower() in taken:
        out = rel.with_stem(f"{rel.stem}-{n}")
        n += 1
    taken.add((out.parent / out.stem).as_posix().lower())
    return out


class Manifest:
    """``OUT/manifest.jsonl`` and ``OUT/mask.json``: what is done, and with which options."""

    def __init__(self, output: Path, settings: dict[str, Any], *, overwrite: bool) -> None:
        self.root = Path(output)
        self.settings = settings
        if self.root.exists() and not self.root.is_dir():
            raise UsageError(f"output {self.root} exists and is not a folder")
        if overwrite:
            (self.root / MANIFEST).unlink(missing_ok=True)
            (self.root / INFO).unlink(missing_ok=True)
        self.records = self._read_records()
        self._check_settings()

    def _read_records(self) -> dict[str, dict[str, Any]]:
        path = self.root / MANIFEST
        if not path.is_file():
            return {}
        records = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut short by a kill: that photo is simply done again
            records[record["source"]] = record  # a later line for the same source wins
        return records

    def _check_settings(self) -> None:
        path = self.root / INFO
        if not path.is_file():
            return
        try:
            before = json.loads(path.read_text(encoding="utf-8"))["settings"]
        except (OSError, ValueError, KeyError) as exc:
            raise DatasetError(f"{path} is unreadable ({exc}): use --overwrite to start again") from None
        changed = sorted(k for k in set(before) | set(self.settings) if before.get(k) != self.settings.get(k))
        if changed:
            raise UsageError(f"{self.root} holds photos masked with other options ({', '.join(changed)}): "
                             "use --overwrite to redo them, or another -o")

    def is_done(self, job: PhotoJob, mask_dir: Path) -> bool:
        """Done when the manifest says so and the files it names are still there."""
        record = self.records.get(job.source.name)
        if record is None:
            return False
        files = [self.root / p for p in record.get("outputs", [])] + [mask_dir / p for p in record.get("masks", [])]
        return all(f.is_file() for f in files)

    def open(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._write_info(complete=False)
        self._fh = open(self.root / MANIFEST, "a", encoding="utf-8")

    def append(self, record: dict[str, Any]) -> None:
        self._fh.write(json.dumps(record) + "\n")
        self._fh.flush()
        self.records[record["source"]] = record

    def close(self, *, complete: bool) -> None:
        self._fh.close()
        self._write_info(complete=complete)

    def _write_info(self, *, complete: bool) -> None:
        from maskaway_cli.imageio import atomic_write_text

        info = {"format_version": FORMAT_VERSION, "maskaway_version": __version__, "settings": self.settings,
                "photos": len(self.records), "complete": complete}
        atomic_write_text(self.root / INFO, json.dumps(info, indent=2) + "\n")
