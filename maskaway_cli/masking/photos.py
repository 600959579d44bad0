"""``maskaway mask``: every face of every photo gets a synthetic mask; whole photos and binary masks out.

Per photo, in a worker process: load → detect → 68 landmarks → warp a mask template onto each face at
the photo's own resolution (``synth.photo``) → encode like the input → write the mask, then the photo,
atomically. The main process appends the photo's manifest line once its files are in place, in input
order, so a re-run skips exactly what is done and the output does not depend on ``--workers``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from maskaway_cli.config import MaskConfig
from maskaway_cli.data.sources import Skipped, iter_payloads
from maskaway_cli.errors import MaskAwayError, UsageError
from maskaway_cli.masking.outputs import Manifest, PhotoJob, plan_jobs
from maskaway_cli.masking.workers import ordered_results
from maskaway_cli.progress import Reporter, null_reporter

PROVENANCE = "MaskAway {version} drew synthetic face masks on {faces} face(s) of this photo."


@dataclass
class MaskSummary:
    photos: int = 0  # photos read this run
    written: int = 0  # photos written (one per variant with --types all)
    faces_masked: int = 0
    resumed: int = 0  # photos an earlier run had done
    no_face: list[str] = field(default_factory=list)
    faces_not_masked: list[dict[str, Any]] = field(default_factory=list)  # source, box, reason
    errors: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "photos_read": self.photos, "photos_written": self.written, "faces_masked": self.faces_masked,
            "photos_resumed": self.resumed, "photos_no_face": self.no_face,
            "faces_not_masked": self.faces_not_masked, "seconds": round(self.seconds, 3),
            "errors": [{"input": s.name, "reason": s.reason} for s in self.errors],
        }


@dataclass(frozen=True)
class PhotoResult:
    source: str
    record: dict[str, Any] | None = None  # the manifest line; None on error
    error: str | None = None


# ---- worker side ----------------------------------------------------------------------------------
_WORKER: dict[str, Any] = {}


def init_worker(config: MaskConfig) -> None:
    """Load the detector, landmark model and templates once per process."""
    import cv2

    from maskaway_cli.faces.detect import DetectorConfig, make_detector
    from maskaway_cli.synth.compose import MaskChoice, MaskSynthesizer

    cv2.setNumThreads(1)  # one process per core
    synth = MaskSynthesizer(synth_options(config))
    _WORKER.update(config=config, synth=synth,
                   detect=make_detector(DetectorConfig(config.detector, config.confidence, config.min_face, keep_small=True)),
                   code=synth.parse_code(config.code) if config.code is not None else None,
                   every=[MaskChoice(t) for t in synth.types] if config.every_type else None)


def synth_options(config: MaskConfig):
    from maskaway_cli.synth.compose import SynthOptions

    types = config.drawn_types
    if config.code is not None:  # only the types the mix names (drawing every type costs start-up time)
        types = tuple(dict.fromkeys(e.partition("-")[0].strip() for e in config.code.split(",") if e.strip()))
    return SynthOptions(types=types, colors=config.colors, color_weight=config.color_weight,
                        textures=config.textures, texture_weight=config.texture_weight,
                        templates_dir=config.templates)


def mask_one(task: tuple[PhotoJob, Any]) -> PhotoResult:
    """Everything for one photo; a bad photo comes back as an error line, never as an exception."""
    from maskaway_cli.imageio import load_image

    job, payload = task
    name = job.source.name
    if isinstance(payload, Exception):
        return PhotoResult(name, error=str(payload))
    try:
        image = load_image(payload, name=name)
        return PhotoResult(name, _mask_and_write(job, image))
    except MaskAwayError as exc:
        return PhotoResult(name, error=str(exc).replace("\n", " ").removeprefix(f"{name}: "))


def _mask_and_write(job: PhotoJob, image) -> dict[str, Any]:
    from maskaway_cli.faces.locate import find_faces

    config: MaskConfig = _WORKER["config"]
    faces, small = find_faces(image.rgb, _WORKER["detect"])
    record: dict[str, Any] = {"source": job.source.name, "size": list(image.size), "small_faces": small,
                              "outputs": [], "masks": [], "faces": [], "not_masked": []}
    if not faces:
        return record
    variants = [(c.mask_type, c) for c in _WORKER["every"]] if _WORKER["every"] else [("", None)]
    for copy, (variant, choice) in enumerate(variants):
        masked, infos = _mask(image.rgb, faces, job, copy, choice)
        if copy == 0:  # a face that cannot carry one mask cannot carry the others: report it once
            record["not_masked"] = [{"box": info["box"], "reason": info["skipped"]}
                                    for info in infos if "skipped" in info]
        done = [info for info in infos if "skipped" not in info]
        if done:
            _write(job, variant, image, masked, len(done), record)
            record["faces"].extend(done)
    if record["outputs"] and config.keep_original:
        _write(job, "original", image, None, 0, record)
    return record


def _mask(rgb, faces, job: PhotoJob, copy: int, choice):
    """The photo with every face masked (one random stream per face) and per-face manifest fields."""
    from maskaway_cli.masking.streams import face_rng
    from maskaway_cli.synth.photo import mask_photo

    config: MaskConfig = _WORKER["config"]
    streams = [face_rng(config.seed, job.source.name, f.index, copy) for f in faces]
    rngs = [rng for rng, _ in streams]
    if _WORKER["code"] is not None:  # MaskTheFace's --code: each face draws one entry of the mix
        code = _WORKER["code"]
        choices = [code[int(rng.integers(len(code)))] for rng in rngs]
    else:
        choices = [choice] * len(faces)
    masked = mask_photo(rgb, [f.landmarks for f in faces], _WORKER["synth"], rngs, choices=choices)
    infos = []
    for f, info, (_, entropy) in zip(faces, masked.infos, streams):
        record = f.record()
        infos.append({**record, **info, "seed": entropy} if "skipped" not in info else {"box": record["box"], **info})
    return masked, infos


def _write(job: PhotoJob, variant: str, image, masked, faces: int, record: dict[str, Any]) -> None:
    """Mask first, then photo, each atomically: a photo in OUT always has its mask beside it."""
    from maskaway_cli import __version__
    from maskaway_cli.imageio import atomic_write_bytes, encode_like, encode_png, format_for_path

    config: MaskConfig = _WORKER["config"]
    photo = config.output / job.photo(variant)
    if masked is not None:
        mask = config.mask_dir / job.mask(variant)
        mask.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(mask, encode_png(masked.binary, compress_level=1), durable=False)  # (H,W) L: 255 on the mask
        record["masks"].append(job.mask(variant).as_posix())
    note = PROVENANCE.format(version=__version__, faces=faces) if masked is not None else None
    data = encode_like(image, masked.rgb if masked is not None else image.rgb, format_for_path(photo), note=note)
    photo.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(photo, data, durable=False)
    record["outputs"].append(job.photo(variant).as_posix())


# ---- main side ------------------------------------------------------------------------------------
def mask_photos(config: MaskConfig, *, reporter: Reporter = null_reporter) -> MaskSummary:
    """Run the whole command; returns what happened. Raises only for problems that stop everything."""
    start = time.perf_counter()
    from maskaway_cli.synth.compose import MaskSynthesizer

    synth = MaskSynthesizer(synth_options(config))  # bad --types/--colors/--code fail before any output
    if config.code is not None:
        synth.parse_code(config.code)
    jobs, skipped = plan_jobs(config.sources, config.output, config.mask_dir)
    if not jobs and not skipped:
        raise UsageError("no images found in the given sources")
    manifest = Manifest(config.output, config.settings(), overwrite=config.overwrite)
    todo = [j for j in jobs if not manifest.is_done(j, config.mask_dir)]
    summary = MaskSummary(errors=list(skipped), resumed=len(jobs) - len(todo))
    for s in skipped:
        reporter("note", text=f"skipped {s.name}: {s.reason}")
    manifest.open()
    reporter("begin", task="mask", total=len(todo), description="Masking")
    complete = False
    try:
        for job, result in zip(todo, _results(todo, config)):
            _record(job, result, manifest, summary, config, reporter)
            elapsed = max(time.perf_counter() - start, 1e-6)
            reporter("advance", task="mask", n=1, **{"img/s": summary.photos / elapsed,
                                                      "faces": summary.faces_masked})
        complete = True
    except BaseException:
        _sweep(todo, manifest, config, ["", "original", *synth.types] if config.every_type else ["", "original"])
        raise
    finally:
        manifest.close(complete=complete)
        reporter("end", task="mask")
    summary.seconds = time.perf_counter() - start
    return summary


def _results(todo: list[PhotoJob], config: MaskConfig):
    """Results in input order, from worker processes or in this process for ``workers=1``."""
    tasks = ((job, payload) for job, (_, payload) in zip(todo, iter_payloads([j.source for j in todo])))
    return ordered_results(mask_one, tasks, count=len(todo), workers=config.workers, init=init_worker,
                           initargs=(config,), max_chunk=8)


def _record(job: PhotoJob, result: PhotoResult, manifest: Manifest, summary: MaskSummary, config, reporter) -> None:
    summary.photos += 1
    if result.error is not None:
        summary.errors.append(Skipped(result.source, result.error))
        reporter("note", text=f"error {result.source}: {result.error}")
        return
    record = result.record
    manifest.append(record)
    summary.written += len(record["masks"])  # one mask per masked photo; originals have none
    summary.faces_masked += len(record["faces"])
    if not record["faces"] and not record["not_masked"]:
        why = f"only faces under {config.min_face} px" if record["small_faces"] else "no face found"
        summary.no_face.append(result.source)
        _verbose(reporter, config, f"{result.source}: {why}")
    summary.faces_not_masked.extend({"input": result.source, **f} for f in record["not_masked"])
    for f in record["not_masked"]:
        reporter("note", text=f"{result.source}: face at {f['box']} not masked: {f['reason']}")
    if record["faces"]:
        kinds = ", ".join(_describe(f) for f in record["faces"])
        _verbose(reporter, config, f"{result.source}: {len(record['faces'])} mask(s): {kinds}")


def _describe(face: dict[str, Any]) -> str:
    look = face.get("color") or face.get("texture")
    return f"{face['mask_type']} {look}" if look else face["mask_type"]


def _verbose(reporter: Reporter, config: MaskConfig, text: str) -> None:
    if config.verbose:
        reporter("note", text=text)


def _sweep(todo: list[PhotoJob], manifest: Manifest, config: MaskConfig, variants: list[str]) -> None:
    """After an interruption: remove temp files that killed workers may have left for unfinished photos."""
    from maskaway_cli.imageio import stray_temp_files

    for job in todo:
        if job.source.name in manifest.records:
            continue
        for variant in variants:
            for target in (config.output / job.photo(variant), config.mask_dir / job.mask(variant)):
                for path in stray_temp_files(target):
                    path.unlink(missing_ok=True)
