"""Work done in worker processes: stage A (load, detect, align) and stage B (paste back, write).

Both take and return plain picklable values and never raise for a bad photo: the error comes back as a
one-line reason so the batch goes on.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from maskaway_cli.errors import ImageError, MaskAwayError
from maskaway_cli.data.sources import IMAGE_SUFFIXES
from maskaway_cli.unmask.plan import Job, UnmaskConfig
from maskaway_cli.unmask.spool import Spooled, spool, unspool

PROVENANCE = ("MaskAway {version} synthesized the face region that a mask covered ({faces} face(s)) with "
              "weights {weights}; that region is a plausible guess, not the person's real face.")


# ---- stage A: load, detect, align ---------------------------------------------------------------------
@dataclass(frozen=True)
class Face:
    matrix: np.ndarray  # (2,3) photo → crop
    crop: np.ndarray  # (S,S,3) uint8
    given_mask: np.ndarray | None  # (S,S) uint8 from --mask-dir, else None
    box: tuple[float, float, float, float] | None = None  # detector box, photo pixels (None: --aligned)


@dataclass(frozen=True)
class Prepared:
    index: int
    job: Job
    image: Any = None  # imageio.LoadedImage; its pixels are in ``spooled`` when that is set
    faces: list[Face] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    spooled: tuple[Spooled, Spooled | None] | None = None  # (rgb, alpha) parked for stage B


_STATE: dict[str, Any] = {}


def init_worker(config: UnmaskConfig, size: int, spool_dir: Path | None = None) -> None:
    """Set up a worker; ``spool_dir`` (worker processes only) is where stage A parks the pixels."""
    import cv2

    if spool_dir is not None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process decides how to stop
    cv2.setNumThreads(1)
    _STATE.update(config=config, size=size, spool_dir=spool_dir)
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
    return _park(Prepared(index, job, image, faces, notes))


def _park(prepared: Prepared) -> Prepared:
    """In a worker process, move the photo's pixels to the spool so they skip the main process."""
    folder, image = _STATE.get("spool_dir"), prepared.image
    if folder is None:
        return prepared
    rgb = spool(image.rgb, folder)
    alpha = spool(image.alpha, folder) if rgb is not None and image.alpha is not None else None
    if rgb is None or (image.alpha is not None and alpha is None):  # disk full: send them by value
        if rgb is not None:
            Path(rgb.path).unlink(missing_ok=True)
        return prepared
    bare = replace(image, rgb=np.zeros((0, 0, 3), np.uint8), alpha=None)  # no pixels ride along
    return replace(prepared, image=bare, spooled=(rgb, alpha))


def _unpark(prepared: Prepared):
    """The photo of ``prepared`` with its pixels back (reading and deleting the spool files)."""
    if prepared.spooled is None:
        return prepared.image
    rgb_ref, alpha_ref = prepared.spooled
    try:
        rgb = unspool(rgb_ref)
        alpha = unspool(alpha_ref) if alpha_ref is not None else None
    except (OSError, ValueError) as exc:
        raise ImageError(f"lost its pixels between stages: {exc}") from exc
    return replace(prepared.image, rgb=rgb, alpha=alpha)


def _faces(rgb: np.ndarray, job: Job) -> list[Face]:
    import cv2

    from maskaway_cli.unmask.pipeline import aligned_faces

    config: UnmaskConfig = _STATE["config"]
    size: int = _STATE["size"]
    user_mask = _user_mask(rgb.shape[:2], job) if config.mask_dir else None
    if config.aligned:  # the whole image is one aligned face: a plain resize is the alignment
        h, w = rgb.shape[:2]
        matrix = np.array([[size / w, 0, 0.5 * size / w - 0.5], [0, size / h, 0.5 * size / h - 0.5]])
        crop = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
        return [Face(matrix, crop, _warp_mask(user_mask, matrix, size))]
    return [Face(a.matrix, a.crop, _warp_mask(user_mask, a.matrix, size), f.box)
            for f, a in aligned_faces(rgb, _STATE["detect"], size)]


def _user_mask(shape: tuple[int, int], job: Job) -> np.ndarray:
    from maskaway_cli.imageio import load_rgb

    config = _STATE["config"]
    folder: Path = config.mask_dir
    # The mask mirrors the photo's place under the input folder (as `maskaway mask` writes them):
    # masks/sub/x.png for photos/sub/x.jpg; a flat folder of masks works too.
    sub = Path()
    for root in {config.output.absolute(), config.output.resolve()}:
        if root in job.target.parents:
            sub = job.target.relative_to(root).parent
    places = [folder / sub, folder] if sub != Path() else [folder]
    candidates = [c for place in places for c in sorted(place.glob(f"{job.source.stem}.*"))]
    for candidate in candidates:
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


# ---- stage B: paste back, encode, write ---------------------------------------------------------------
@dataclass(frozen=True)
class Finished:
    index: int
    source: str
    faces: int = 0
    masks_removed: int = 0
    error: str | None = None
    left: list[dict] = field(default_factory=list)  # faces not unmasked, or unmasked but unsure: box, why


def face_reports(faces: list[Face], outputs: list) -> list[dict]:
    """The faces a user should look at: those left alone (no mask found, a mask seen but not segmented,
    a mask the segmenter was unsure of) and those painted with little confidence."""
    out = []
    for face, o in zip(faces, outputs):
        if o.has_mask and not o.unsure:
            continue
        if o.has_mask:
            status = "unsure"
        elif o.worn is False:
            status = "no mask found"  # the presence model's call
        elif o.worn:
            status = "mask seen, not segmented"  # worn, says the presence model; the segmenter found too little
        elif o.mask_fraction > 0:
            status = "unsure, left alone"  # a mask was seen, but less surely than calibration asks
        else:
            status = "no mask found"
        box = None if face.box is None else [round(v, 1) for v in face.box]
        report = {"box": box, "status": status, "mask_fraction": round(o.mask_fraction, 4),
                  "confidence": round(o.confidence, 3)}
        if o.presence is not None:
            report["presence"] = round(o.presence, 3)
        out.append(report)
    return out


def finish(task: tuple[Prepared, list, str]) -> Finished:
    """Paste every unmasked face back, write the photo (and side outputs) atomically."""
    from maskaway_cli.unmask.pipeline import paste_faces

    prepared, outputs, weights_note = task
    config: UnmaskConfig = _STATE["config"]
    job = prepared.job
    try:
        image = _unpark(prepared)
        rgb, region = paste_faces(image.rgb, [f.matrix for f in prepared.faces], outputs)
        removed = sum(o.has_mask for o in outputs)
        _write_photo(job.target, image, rgb, removed, weights_note, config)
        if config.save_masks:
            _write_side(job.mask_target, (region * 255).astype(np.uint8))
        if config.compare:
            _write_side(job.compare_target, _compare(image.rgb, region, rgb))
    except MaskAwayError as exc:
        return Finished(prepared.index, job.source.as_posix(), error=_one_line(exc, job.source))
    return Finished(prepared.index, job.source.as_posix(), len(outputs), removed,
                    left=face_reports(prepared.faces, outputs))


def _write_photo(target: Path, image, rgb: np.ndarray, removed: int, weights_note: str, config) -> None:
    from maskaway_cli import __version__
    from maskaway_cli.imageio import atomic_write_bytes, encode_like, format_for_path

    note = PROVENANCE.format(version=__version__, faces=removed, weights=weights_note) if removed and config.provenance else None
    data = encode_like(image, rgb, format_for_path(target), note=note)
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
