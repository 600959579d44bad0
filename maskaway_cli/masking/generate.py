"""``maskaway generate``: real face photos in, aligned training triplets out.

Per source image (in worker processes): load → detect faces (masked ones too) → 68 landmarks → align to the
canonical crop → ``per_face`` times: put a synthetic mask on the crop → encode PNGs. The main process
assigns ids in source order and writes everything through ``DatasetWriter``, so the output is identical
whatever the number of workers, and an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from maskaway_cli.config import GenerateConfig
from maskaway_cli.data.sources import Skipped, Source, collect_sources, iter_payloads
from maskaway_cli.errors import ImageError, UsageError
from maskaway_cli.masking.dataset import DatasetWriter
from maskaway_cli.faces.locate import FoundFace, find_faces
from maskaway_cli.masking.streams import face_rng
from maskaway_cli.masking.workers import ordered_results
from maskaway_cli.progress import Reporter, null_reporter
from maskaway_cli.synth import degrade, lookalike


@dataclass(frozen=True)
class FaceSample:
    face: int  # index of the face in its photo (detector order)
    copy: int  # which of the ``per_face`` masked versions
    record: dict[str, Any]  # manifest fields known in the worker
    pngs: dict[str, bytes]  # original / masked / binary


@dataclass(frozen=True)
class ImageResult:
    source: str
    status: str  # "ok" | "noface" | "small" | "error"
    reason: str = ""
    faces: int = 0
    samples: list[FaceSample] = field(default_factory=list)


@dataclass(frozen=True)
class GenerateSummary:
    images: int = 0
    faces: int = 0
    samples: int = 0
    resumed_samples: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0
    splits: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return sum(s.error for s in self.skipped)

    def as_dict(self) -> dict[str, Any]:
        return {
            "images_read": self.images,
            "faces_found": self.faces,
            "samples_written": self.samples,
            "samples_resumed": self.resumed_samples,
            "splits": self.splits,
            "seconds": round(self.seconds, 3),
            "skipped": [{"source": s.name, "reason": s.reason, "error": s.error} for s in self.skipped],
        }


BARE_INFO = {"mask_type": "none", "template": None, "variant": None, "color": None, "texture": None}


# ---- worker side ----------------------------------------------------------------------------------
_WORKER: dict[str, Any] = {}


def _init_worker(config: GenerateConfig) -> None:
    """Load the detector, landmark model and templates once per process."""
    import cv2

    from maskaway_cli.faces.detect import DetectorConfig, make_detector
    from maskaway_cli.synth.compose import MaskSynthesizer

    cv2.setNumThreads(1)  # one process per core; also keeps results independent of --workers
    _WORKER["config"] = config
    # Keep small faces too, so that faces too small for a sample are reported as such, not as "no face".
    det_cfg = DetectorConfig(config.detector, config.confidence, config.min_face, keep_small=True)
    _WORKER["detect"] = make_detector(det_cfg)
    _WORKER["synth"] = MaskSynthesizer(synth_options(config))


def synth_options(config: GenerateConfig):
    from maskaway_cli.synth.compose import SynthOptions

    return SynthOptions(
        types=config.types,
        colors=config.colors,
        color_weight=config.color_weight,
        textures=config.textures,
        texture_weight=config.texture_weight,
        templates_dir=config.templates,
        worn_low=config.worn_low,
        gaiter=config.gaiter,
        valve=config.valve,
    )


def process_image(task: tuple[Source, Any]) -> ImageResult:
    """Everything for one source image; never raises for a bad image (returns status "error")."""
    from maskaway_cli.imageio import load_rgb

    source, payload = task
    if isinstance(payload, Exception):
        return ImageResult(source.name, "error", str(payload))
    try:
        rgb = load_rgb(payload, name=source.name)  # (H,W,3) uint8
    except ImageError as exc:
        return ImageResult(source.name, "error", str(exc).removeprefix(f"{source.name}: "))
    config: GenerateConfig = _WORKER["config"]
    faces, small = find_faces(rgb, _WORKER["detect"])
    if not faces and not small:
        return ImageResult(source.name, "noface", "no face found")
    if not faces:
        return ImageResult(source.name, "small", f"face too small (< {config.min_face} px)", small)
    samples = []
    for face in faces:
        samples.extend(_face_samples(rgb, face, source.name, config))
    return ImageResult(source.name, "ok", faces=len(faces), samples=samples)


def _face_samples(rgb, face: FoundFace, source: str, config: GenerateConfig) -> list[FaceSample]:
    from maskaway_cli.faces.align import align_face
    from maskaway_cli.imageio import encode_png

    aligned = align_face(rgb, face.landmarks, config.size)
    clean_png = encode_png(aligned.crop, compress_level=1)  # level 1: 40% faster, 19% bigger files
    out = []
    for copy in range(config.per_face):
        rng, entropy = face_rng(config.seed, source, face.index, copy)
        masked, original, binary, info = _draw(aligned, rng, config)
        original_png = clean_png if original is aligned.crop else encode_png(original, compress_level=1)
        if config.degrade and rng.random() < config.degrade:  # the pair alike: same draw for both
            degradation = degrade.draw(rng)
            masked, original = degradation.apply(masked), degradation.apply(original)
            binary = degrade.cover(binary, masked, original)
            original_png = encode_png(original, compress_level=1)
            info["degraded"] = degradation.info()
        record = {
            "source": source,
            **face.record(),
            "copy": copy,
            "matrix": np.round(aligned.matrix, 6).tolist(),
            **info,
            "seed": entropy,
        }
        pngs = {"original": original_png, "masked": encode_png(masked, compress_level=1),
                "binary": encode_png(binary, compress_level=1)}
        out.append(FaceSample(face.index, copy, record, pngs))
    return out


def _draw(aligned, rng, config: GenerateConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """(masked (S,S,3), original (S,S,3), binary (S,S), manifest fields): a synthetic mask, or with
    ``--bare`` none at all; with ``--lookalike``, a bare face may get a scarf or a microphone, on
    both images (it is part of the face's truth, not a mask)."""
    if config.bare and rng.random() < config.bare:
        face, info = aligned.crop, dict(BARE_INFO)
        if config.lookalike and rng.random() < config.lookalike:  # no draw when off: old seeds hold
            face, extra = lookalike.draw(face, aligned.landmarks, rng)
            info.update(extra)
        return face, face, np.zeros(face.shape[:2], np.uint8), info
    result = _WORKER["synth"].apply(aligned.crop, aligned.landmarks, rng)
    return result.masked, aligned.crop, result.binary, dict(result.info)


# ---- main side ------------------------------------------------------------------------------------
def split_of(source: str, config: GenerateConfig) -> str:
    """Split by source image (never by face) from a hash, so it does not depend on order or workers."""
    u = int.from_bytes(hashlib.sha256(source.encode()).digest()[:8], "big") / 2**64
    return config.split.pick(u)


def generate(config: GenerateConfig, *, reporter: Reporter = null_reporter) -> GenerateSummary:
    """Run the whole command; returns what happened (skips included). Raises for unusable output only."""
    start = time.perf_counter()
    _check_synth_options(config)
    sources, skipped = collect_sources(list(config.sources))
    if not sources and not skipped:
        raise UsageError("no images found in the given sources")
    if config.limit is not None:
        sources = sources[: config.limit]
    writer = DatasetWriter(config.output, config.settings(), overwrite=config.overwrite)
    resumed = writer.next_id
    todo = _remaining(sources, writer)
    for s in skipped:
        reporter("note", text=f"skipped {s.name}: {s.reason}")
    counts = {"images": 0, "faces": 0, "samples": 0}
    reporter("begin", task="generate", total=len(todo), description="Generating")
    try:
        for result in _results(todo, config):
            _write_result(result, writer, config, counts, skipped, reporter)
            elapsed = max(time.perf_counter() - start, 1e-6)
            reporter("advance", task="generate", n=1, **{"faces/s": counts["faces"] / elapsed,
                                                          "skipped": len(skipped)})
        writer.remove_orphans()
        splits = _split_counts(writer.records)
        writer.write_info(counts={"samples": len(writer.records), **splits}, complete=True)
    finally:
        writer.close()
        reporter("end", task="generate")
    return GenerateSummary(
        images=counts["images"], faces=counts["faces"], samples=counts["samples"], resumed_samples=resumed,
        skipped=skipped, seconds=time.perf_counter() - start, splits=splits,
    )


def _check_synth_options(config: GenerateConfig) -> None:
    """Fail on bad --types/--colors/--templates before any output folder is touched."""
    from maskaway_cli.synth.compose import MaskSynthesizer

    MaskSynthesizer(synth_options(config))


def _remaining(sources: list[Source], writer: DatasetWriter) -> list[Source]:
    """Sources after the last one the manifest holds (the manifest is a prefix of the run)."""
    if not writer.records:
        return sources
    last = writer.records[-1]["source"]
    names = [s.name for s in sources]
    return sources[names.index(last) + 1 :] if last in names else sources


def _results(todo: list[Source], config: GenerateConfig):
    """Results in source order, from worker processes or in this process for ``workers=1``."""
    return ordered_results(process_image, iter_payloads(todo), count=len(todo), workers=config.workers,
                           init=_init_worker, initargs=(config,), max_chunk=16)


def _write_result(result: ImageResult, writer, config, counts, skipped, reporter) -> None:
    counts["images"] += 1
    if result.status != "ok":
        skip = Skipped(result.source, result.reason, error=result.status == "error")
        skipped.append(skip)
        if skip.error:
            reporter("note", text=f"skipped {skip.name}: {skip.reason}")
        return
    counts["faces"] += result.faces
    split = split_of(result.source, config)
    records = []
    for sample in result.samples:
        sample_id = f"{writer.next_id + len(records):06d}"
        writer.write_sample(sample_id, sample.pngs)
        records.append({"id": sample_id, **sample.record, "split": split, "source_samples": len(result.samples)})
    writer.append_records(records)
    counts["samples"] += len(records)


def _split_counts(records: list[dict[str, Any]]) -> dict[str, int]:
    out = {"train": 0, "val": 0, "test": 0}
    for r in records:
        out[r["split"]] += 1
    return out
