"""Inputs → jobs: which file goes to which output path. Nothing is read or written here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from maskaway_cli.errors import UsageError
from maskaway_cli.data.sources import IMAGE_SUFFIXES, walk_files


@dataclass(frozen=True)
class UnmaskConfig:
    inputs: tuple[str, ...]
    output: Path
    weights: tuple[str, ...] = ()
    device: str = "auto"
    batch_size: int = 32
    workers: int = 1
    recursive: bool = False
    save_masks: bool = False
    compare: bool = False
    mask_dir: Path | None = None
    threshold: float | None = None  # None: the segmenter's calibrated threshold
    min_confidence: float | None = None  # None: the segmenter's calibrated one (beside a presence model, its own)
    min_presence: float | None = None  # None: the presence model's calibrated threshold
    skip_existing: bool = False
    overwrite: bool = False
    provenance: bool = True
    aligned: bool = False
    detector: str = "retina"
    confidence: float | None = None  # None: the detector's own default
    min_face: int = 20

    def __post_init__(self) -> None:
        if self.skip_existing and self.overwrite:
            raise UsageError("--skip-existing and --overwrite exclude each other")
        if self.batch_size < 1 or self.workers < 1:
            raise UsageError("--batch-size and --workers must be at least 1")


@dataclass(frozen=True)
class Job:
    source: Path  # the input file
    target: Path  # the output file

    @property
    def mask_target(self) -> Path:  # --save-masks
        return side_path(self.target, "mask", ".png")

    @property
    def compare_target(self) -> Path:  # --compare
        return side_path(self.target, "compare", ".jpg")


def plan_jobs(config: UnmaskConfig, stdin_lines: list[str] | None = None) -> tuple[list[Job], list[tuple[str, str]]]:
    """Inputs → (input, output) pairs; inputs that cannot be used come back with a reason."""
    out_root = config.output.resolve() if config.output.exists() else config.output.absolute()
    if config.output.exists() and not config.output.is_dir():
        raise UsageError(f"output {config.output} exists and is not a folder")
    pairs: list[tuple[Path, Path]] = []
    errors: list[tuple[str, str]] = []
    for raw in config.inputs:
        if raw == "-":
            for line in stdin_lines or []:
                if line.strip():
                    _add_file(Path(line.strip()), Path(Path(line.strip()).name), pairs, errors)
            continue
        path = Path(raw)
        if path.is_dir():
            root = path.resolve()
            if out_root == root or root in out_root.parents:
                raise UsageError(f"output {config.output} is inside input folder {path}: choose another -o")
            for file in _folder_files(path, config.recursive):
                _add_file(file, file.relative_to(path), pairs, errors)
        else:
            _add_file(path, Path(path.name), pairs, errors)
    return _unique_targets(pairs, out_root), errors


def _add_file(path: Path, rel: Path, pairs, errors) -> None:
    if not path.exists():
        reason = "broken symbolic link" if path.is_symlink() else "no such file"
        errors.append((path.as_posix(), reason))
        return
    pairs.append((path, rel))


def _folder_files(folder: Path, recursive: bool) -> list[Path]:
    return [p for p in walk_files(folder, recursive=recursive) if p.suffix.lower() in IMAGE_SUFFIXES]


def _unique_targets(pairs: list[tuple[Path, Path]], out_root: Path) -> list[Job]:
    """Give each input its own output: a second ``a.jpg`` (from another folder) becomes ``a-2.jpg``."""
    taken: set[str] = set()
    jobs = []
    for source, rel in pairs:
        if rel.suffix.lower() in {".gif"}:  # first frame only: written as PNG, not a one-frame GIF
            rel = rel.with_suffix(".png")
        target = out_root / rel
        n = 2
        while target.as_posix().lower() in taken:
            target = out_root / rel.with_name(f"{rel.stem}-{n}{rel.suffix}")
            n += 1
        taken.add(target.as_posix().lower())
        jobs.append(Job(source, target))
    return jobs


def side_path(target: Path, kind: str, suffix: str) -> Path:
    """``out/a.jpg`` → ``out/a.jpg.mask.png``: side outputs keep the full name, so a.jpg and a.png
    never share one."""
    return target.with_name(f"{target.name}.{kind}{suffix}")
