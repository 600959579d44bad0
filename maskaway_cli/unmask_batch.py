"""``maskaway unmask``: find the inputs, map them to outputs, run the pipeline, write results.

Stage A (worker processes): load the photo, detect faces, landmarks, align → crops.
Main process: one model call per batch of faces from many photos (the GPU, when there is one).
Stage B (worker processes): paste back, encode, write atomically.
At most ``window`` photos are in flight, so memory stays flat however many photos there are.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from maskaway_cli.errors import ImageError, MaskAwayError, UsageError
from maskaway_cli.progress import Reporter, null_reporter
from maskaway_cli.sources import IMAGE_SUFFIXES

PROVENANCE = ("MaskAway {version} synthesized the face region that a mask covered ({faces} face(s)) with "
              "weights {weights}; that region is a plausible guess, not the person's real face.")


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
    threshold: float = 0.5
    skip_existing: bool = False
    overwrite: bool = False
    provenance: bool = True
    aligned: bool = False
    detector: str = "ssd"
    confidence: float = 0.4
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


@dataclass
class UnmaskSummary:
    processed: int = 0
    faces: int = 0
    masks_removed: int = 0
    no_face: list[str] = field(default_factory=list)
    faces_no_mask: int = 0
    skipped_existing: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "processed": self.processed, "faces_found": self.faces, "masks_removed": self.masks_removed,
            "images_no_face": self.no_face, "faces_no_mask": self.faces_no_mask,
            "skipped_existing": self.skipped_existing, "seconds": round(self.seconds, 3),
            "errors": [{"input": s, "reason": r} for s, r in self.errors],
            "notes": [{"input": s, "note": n} for s, n in self.notes],
        }


# ---- inputs and outputs ------------------------------------------------------------------------------
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
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if p.suffix.lower() in IMAGE_SUFFIXES:
                found.append(p)
        if not recursive:
            break
    return found


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


# ---- stage A: load, detect, align (worker processes) -------------------------------------------------
@dataclass(frozen=True)
class Face:
    matrix: np.ndarray  # (2,3) photo → crop
    crop: np.ndarray  # (S,S,3) uint8
    given_mask: np.ndarray | None  # (S,S) uint8 from --mask-dir, else None


@dataclass(frozen=True)
class Prepared:
    index: int
    job: Job
    image: Any = None  # imageio.LoadedImage
    faces: list[Face] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None


_STATE: dict[str, Any] = {}


def _init(config: UnmaskConfig, size: int, quiet_sigint: bool = True) -> None:
    import cv2

    if quiet_sigint:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process decides how to stop
    cv2.setNumThreads(1)
    _STATE.update(config=config, size=size)
    if not config.aligned:
        from maskaway_cli.faces.detect import DetectorConfig, make_detector

        _STATE["detect"] = make_detector(DetectorConfig(config.detector, config.confidence, config.min_face))


def prepare(task: tuple[int, Job]) -> Prepared:
    """Stage A for one photo; bad inputs come back with ``error`` set, never as an exception."""
    from maskaway_cli.imageio import load_image

    index, job = task
    try:
        image = load_image(job.source)
        notes = [f"animated image: used the first of {image.n_frames} frames"] if image.animated else []
        faces = _faces(image.rgb, job)
    except MaskAwayError as exc:
        return Prepared(index, job, error=_one_line(exc, job.source))
    return Prepared(index, job, image, faces, notes)


def _faces(rgb: np.ndarray, job: Job) -> list[Face]:
    import cv2

    from maskaway_cli.pipeline import find_faces

    config: UnmaskConfig = _STATE["config"]
    size: int = _STATE["size"]
    user_mask = _user_mask(rgb.shape[:2], job) if config.mask_dir else None
    if config.aligned:  # the whole image is one aligned face: a plain resize is the alignment
        h, w = rgb.shape[:2]
        matrix = np.array([[size / w, 0, 0.5 * size / w - 0.5], [0, size / h, 0.5 * size / h - 0.5]])
        crop = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
        return [Face(matrix, crop, _warp_mask(user_mask, matrix, size))]
    return [Face(f.matrix, f.crop, _warp_mask(user_mask, f.matrix, size))
            for f in find_faces(rgb, _STATE["detect"], size, detector=config.detector)]


def _user_mask(shape: tuple[int, int], job: Job) -> np.ndarray:
    from maskaway_cli.imageio import load_rgb

    folder: Path = _STATE["config"].mask_dir
    for candidate in sorted(folder.glob(f"{job.source.stem}.*")):
        if candidate.suffix.lower() in IMAGE_SUFFIXES:
            mask = load_rgb(candidate).max(axis=2)  # (H,W) uint8; any bright channel counts
            if mask.shape != shape:
                raise ImageError(f"mask {candidate.name} is {mask.shape[1]}x{mask.shape[0]}, the photo "
                                 f"{shape[1]}x{shape[0]}")
            return mask
    raise ImageError(f"no mask named {job.source.stem}.* in {folder}")


def _warp_mask(mask: np.ndarray | None, matrix: np.ndarray, size: int) -> np.ndarray | None:
    import cv2

    if mask is None:
        return None
    return cv2.warpAffine(mask, matrix, (size, size), flags=cv2.INTER_LINEAR)  # (S,S) uint8


def _one_line(exc: Exception, source: Path) -> str:
    return str(exc).replace("\n", " ").removeprefix(f"{source}: ").removeprefix(f"{source.as_posix()}: ")


# ---- stage B: paste back, encode, write (worker processes) -------------------------------------------
@dataclass(frozen=True)
class Finished:
    index: int
    source: str
    faces: int = 0
    masks_removed: int = 0
    error: str | None = None


def finish(task: tuple[Prepared, list, str]) -> Finished:
    """Paste every unmasked face back, write the photo (and side outputs) atomically."""
    from maskaway_cli.pipeline import paste_faces

    prepared, outputs, weights_note = task
    config: UnmaskConfig = _STATE["config"]
    image, job = prepared.image, prepared.job
    try:
        rgb, region = paste_faces(image.rgb, [f.matrix for f in prepared.faces], outputs)
        removed = sum(o.has_mask for o in outputs)
        _write_photo(job.target, image, rgb, removed, weights_note, config)
        if config.save_masks:
            _write_side(side_path(job.target, "mask", ".png"), (region * 255).astype(np.uint8))
        if config.compare:
            _write_side(side_path(job.target, "compare", ".jpg"), _compare(image.rgb, region, rgb))
    except MaskAwayError as exc:
        return Finished(prepared.index, job.source.as_posix(), error=_one_line(exc, job.source))
    return Finished(prepared.index, job.source.as_posix(), len(outputs), removed)


def _write_photo(target: Path, image, rgb: np.ndarray, removed: int, weights_note: str, config) -> None:
    from maskaway_cli import __version__
    from maskaway_cli.imageio import atomic_write_bytes, encode_image, exif_with_description, format_for_path

    fmt = format_for_path(target)
    pixels = rgb if image.alpha is None or fmt == "JPEG" else np.dstack([rgb, image.alpha])  # alpha back on
    note = PROVENANCE.format(version=__version__, faces=removed, weights=weights_note) if removed and config.provenance else None
    exif = image.exif
    text = None
    if note and fmt == "PNG":
        text = {"Description": note, "Software": f"MaskAway {__version__}"}
    elif note:  # JPEG, WebP, TIFF: EXIF ImageDescription
        exif = exif_with_description(exif, note)
    quality = image.jpeg_quality if fmt == "JPEG" else None
    data = encode_image(pixels, fmt, quality=quality, icc_profile=image.icc_profile, exif=exif, text=text)
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, data)


def _write_side(path: Path, array: np.ndarray) -> None:
    from maskaway_cli.imageio import atomic_write_bytes, encode_image, format_for_path

    atomic_write_bytes(path, encode_image(array, format_for_path(path)))


def _compare(before: np.ndarray, region: np.ndarray, after: np.ndarray) -> np.ndarray:
    """original | where MaskAway painted (green tint) | result, side by side, at most 1024 px high."""
    import cv2

    overlay = before.copy()
    overlay[region] = (0.55 * overlay[region] + [0, 115, 0]).astype(np.uint8)
    strip = np.concatenate([before, overlay, after], axis=1)
    if strip.shape[0] > 1024:
        scale = 1024 / strip.shape[0]
        strip = cv2.resize(strip, (round(strip.shape[1] * scale), 1024), interpolation=cv2.INTER_AREA)
    return strip


# ---- the main loop --------------------------------------------------------------------------------------
class _Inline:
    """Pool stand-in for ``--workers 1``: runs each task at once, in this process."""

    class _Done:
        def __init__(self, value: Any) -> None:
            self.value = value

        def get(self, timeout: float | None = None) -> Any:
            return self.value

        def ready(self) -> bool:
            return True

    def apply_async(self, fn, args):
        return self._Done(fn(*args))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def terminate(self) -> None:
        pass


def unmask(config: UnmaskConfig, *, stdin_lines: list[str] | None = None,
           reporter: Reporter = null_reporter) -> UnmaskSummary:
    """Run the whole command. Raises only for problems that stop everything (weights, output folder)."""
    from maskaway_cli.pipeline import Unmasker, resolve_weights

    start = time.perf_counter()
    need = ("generator",) if config.mask_dir else ("segmenter", "generator")
    unmasker = Unmasker(resolve_weights(config.weights, need=need), device=config.device,
                        threshold=config.threshold, batch_size=config.batch_size)
    jobs, errors = plan_jobs(config, stdin_lines)
    summary = UnmaskSummary(errors=list(errors))
    jobs = _filter_existing(jobs, config, summary)
    weights_note = ", ".join(f"{k} {p.name}" for k, p in unmasker.weights.items())
    config.output.mkdir(parents=True, exist_ok=True)
    reporter("begin", task="unmask", total=len(jobs), description="Unmasking")
    try:
        with _share_cpu(unmasker, config.workers), _pool(config, unmasker.size) as pool:
            _run(jobs, pool, unmasker, weights_note, config, summary, reporter, start)
    finally:
        reporter("end", task="unmask")
    summary.seconds = time.perf_counter() - start
    return summary


@contextlib.contextmanager
def _share_cpu(unmasker, workers: int):
    """On the CPU, leave the cores to the workers: torch's OpenMP threads spin-wait at every layer, and
    with the cores already busy each wait becomes a time slice (measured: a 64 px U-Net went from 10 ms
    to 900 ms per call with 2 threads beside 2 busy workers on 2 cores)."""
    import torch

    before = torch.get_num_threads()
    if unmasker.device.type == "cpu" and workers > 1:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) - workers))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _pool(config: UnmaskConfig, size: int):
    if config.workers == 1:
        _init(config, size, quiet_sigint=False)
        return _Inline()
    return mp.get_context("spawn").Pool(config.workers, initializer=_init, initargs=(config, size))


def _filter_existing(jobs: list[Job], config: UnmaskConfig, summary: UnmaskSummary) -> list[Job]:
    keep = []
    for job in jobs:
        if job.target.exists() and job.target.resolve() == job.source.resolve():
            summary.errors.append((job.source.as_posix(), "output would overwrite the input file"))
        elif job.target.exists() and config.skip_existing:
            summary.skipped_existing.append(job.source.as_posix())
        elif job.target.exists() and not config.overwrite:
            summary.errors.append((job.source.as_posix(), f"{job.target} exists (use --overwrite or --skip-existing)"))
        else:
            keep.append(job)
    return keep


def _run(jobs, pool, unmasker, weights_note, config, summary, reporter, start) -> None:
    window = 4 * config.workers + 4  # photos in flight: enough to keep every stage busy, memory flat
    todo = deque(enumerate(jobs))
    stage_a: deque = deque()
    stage_b: deque = deque()
    ready: list[Prepared] = []

    def flush() -> None:
        crops = [f.crop for p in ready for f in p.faces]
        given = [f.given_mask for p in ready for f in p.faces]
        outputs = unmasker(crops, given) if crops else []
        at = 0
        for p in ready:
            mine = outputs[at : at + len(p.faces)]  # this photo's faces, in order
            at += len(p.faces)
            stage_b.append(pool.apply_async(finish, ((p, mine, weights_note),)))
        ready.clear()

    while todo or stage_a or ready or stage_b:
        while todo and len(stage_a) + len(stage_b) + len(ready) < window:
            stage_a.append(pool.apply_async(prepare, (todo.popleft(),)))
        if stage_a:
            prepared = stage_a.popleft().get()
            if _triage(prepared, summary):
                ready.append(prepared)
            else:
                reporter("advance", task="unmask", n=1)
        # Greedy batching: run the models as soon as nothing more is ready, or the batch is full. On a
        # GPU the models are fast and batches stay small; when they are the bottleneck, photos queue up
        # and batches grow by themselves.
        more_ready = bool(stage_a) and stage_a[0].ready()
        if ready and (not more_ready or sum(len(p.faces) for p in ready) >= config.batch_size):
            flush()
        while stage_b and (stage_b[0].ready() or not stage_a):
            _record(stage_b.popleft().get(), summary, reporter, start)


def _triage(prepared: Prepared, summary: UnmaskSummary) -> bool:
    """Book-keep stage A; True when the photo goes on to the models."""
    name = prepared.job.source.as_posix()
    summary.notes.extend((name, n) for n in prepared.notes)
    if prepared.error is not None:
        summary.errors.append((name, prepared.error))
        return False
    if not prepared.faces:
        summary.no_face.append(name)
    return True  # photos with no face are still written (unchanged), so a folder stays complete


def _record(done: Finished, summary: UnmaskSummary, reporter: Reporter, start: float) -> None:
    if done.error is not None:
        summary.errors.append((done.source, done.error))
    else:
        summary.processed += 1
        summary.faces += done.faces
        summary.masks_removed += done.masks_removed
        summary.faces_no_mask += done.faces - done.masks_removed
    elapsed = max(time.perf_counter() - start, 1e-6)
    reporter("advance", task="unmask", n=1, **{"img/s": summary.processed / elapsed, "faces": summary.faces,
                                                 "removed": summary.masks_removed})
