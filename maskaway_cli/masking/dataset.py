"""The dataset folder that ``maskaway generate`` writes, kept consistent across interruptions.

Layout (DESIGN.md): ``original/``, ``masked/``, ``binary/`` PNGs named by sample id, ``manifest.jsonl``
(one line per sample) and ``dataset.json``. A sample counts only once its manifest line is complete: the
three PNGs are written first, then all lines of one source image are appended in a single write: a
PNG that no complete manifest line claims does not exist as far as readers and resumption are concerned. Sources are processed in a fixed order, so after a crash the
manifest is always a prefix of the full run and resuming reproduces exactly what an uninterrupted run
would have written.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from maskaway_cli import __version__
from maskaway_cli.errors import DatasetError

FORMAT_VERSION = 1
KINDS = ("original", "masked", "binary")
MANIFEST = "manifest.jsonl"
INFO = "dataset.json"


class DatasetWriter:
    """Owns one output folder: checks it, resumes it, writes samples and the final ``dataset.json``."""

    def __init__(self, root: Path, settings: dict[str, Any], *, overwrite: bool) -> None:
        self.root = Path(root)
        self.settings = settings
        self._prepare(overwrite)
        self.records = self._read_manifest()
        self._manifest = open(self.root / MANIFEST, "a", encoding="utf-8")

    # ---- setup -------------------------------------------------------------------------------
    def _prepare(self, overwrite: bool) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise DatasetError(f"output {self.root} exists and is not a folder")
        info_path = self.root / INFO
        if overwrite:
            self._clear()
        elif info_path.is_file():
            stored = _read_json(info_path).get("settings")
            if stored != self.settings:
                changed = sorted(k for k in self.settings if (stored or {}).get(k) != self.settings[k])
                raise DatasetError(
                    f"{self.root} was generated with other settings ({', '.join(changed) or 'format'}); "
                    "pass --overwrite to start again"
                )
        elif self.root.is_dir() and any(self.root.iterdir()):
            raise DatasetError(f"output {self.root} is not empty and is not a MaskAway dataset")
        for kind in KINDS:
            (self.root / kind).mkdir(parents=True, exist_ok=True)
        if not info_path.is_file():
            self.write_info(counts={}, complete=False)

    def _clear(self) -> None:
        """Remove only what ``generate`` writes, never anything else in the folder."""
        for kind in KINDS:
            shutil.rmtree(self.root / kind, ignore_errors=True)
        for name in (MANIFEST, INFO):
            (self.root / name).unlink(missing_ok=True)

    def _read_manifest(self) -> list[dict[str, Any]]:
        """Complete records; a torn last line or a source cut short is dropped and the file trimmed."""
        path = self.root / MANIFEST
        if not path.is_file():
            return []
        records, good_bytes = [], 0
        with open(path, "rb") as fh:
            for raw in fh:
                try:
                    records.append(json.loads(raw))
                except ValueError:
                    break
                if not raw.endswith(b"\n"):
                    records.pop()
                    break
                good_bytes += len(raw)
        if records:  # drop a source whose lines did not all make it
            last = records[-1]["source"]
            group = [r for r in records if r["source"] == last]
            if len(group) != last_group_size(group):
                records = records[: len(records) - len(group)]
                good_bytes = sum(len(json.dumps(r) + "\n") for r in records)
        with open(path, "r+b") as fh:
            fh.truncate(good_bytes)
        return records

    # ---- writing -----------------------------------------------------------------------------
    @property
    def next_id(self) -> int:
        return len(self.records)

    def done_sources(self) -> set[str]:
        return {r["source"] for r in self.records}

    def write_sample(self, sample_id: str, pngs: dict[str, bytes]) -> None:
        # Plain writes, no temp + rename: a sample exists only once its manifest line is appended, after
        # these writes return, so a PNG cut short by a kill is unclaimed and is rewritten or removed on
        # resume. That halves the file-system work per sample.
        for kind in KINDS:
            (self.root / kind / f"{sample_id}.png").write_bytes(pngs[kind])

    def append_records(self, records: list[dict[str, Any]]) -> None:
        """Append the lines of one source in one write, then flush (after its PNGs are in place)."""
        if not records:
            return
        self._manifest.write("".join(json.dumps(r) + "\n" for r in records))
        self._manifest.flush()
        self.records.extend(records)

    def remove_orphans(self) -> None:
        """Delete PNGs of an interrupted run that no manifest line claims."""
        ids = {r["id"] for r in self.records}
        for kind in KINDS:
            for path in (self.root / kind).iterdir():
                if path.stem not in ids or path.name.startswith("."):
                    path.unlink(missing_ok=True)

    def write_info(self, *, counts: dict[str, Any], complete: bool) -> None:
        info = {
            "format_version": FORMAT_VERSION,
            "maskaway_version": __version__,
            "size": self.settings["size"],
            "settings": self.settings,
            "counts": counts,
            "complete": complete,
        }
        self.root.mkdir(parents=True, exist_ok=True)
        _replace_bytes(self.root / INFO, (json.dumps(info, indent=2) + "\n").encode())

    def close(self) -> None:
        self._manifest.close()


def last_group_size(group: list[dict[str, Any]]) -> int:
    return int(group[-1].get("source_samples", len(group)))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path} is unreadable: {exc}") from None


def _replace_bytes(path: Path, data: bytes) -> None:
    """Temp file + rename: a killed process leaves the old file or the new one, never half of one.

    No fsync: this guards against interruption, not power loss, and an fsync per 64 px PNG would cost
    more than generating it.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
