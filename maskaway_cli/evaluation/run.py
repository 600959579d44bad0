"""``maskaway evaluate DATASET``: how good a segmenter + generator pair is, with baselines beside it.

Reads the dataset's split, measures segmentation and inpainting on the aligned crops (``evaluation.crops``)
and, with ``photos``, the whole pipeline on full photos (``evaluation.photos``); then writes
``report.json``, ``report.md`` and a contact sheet into the output folder. Everything is computed before
anything is written, so a failed run leaves no half report behind.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from maskaway_cli import __version__
from maskaway_cli.errors import DatasetError, UsageError
from maskaway_cli.progress import Reporter, null_reporter

REPORT_SCHEMA_VERSION = 1
SHEET_NAME = "samples.png"


@dataclass(frozen=True)
class EvaluateConfig:
    dataset: Path
    output: Path = Path("evaluation")
    weights: tuple[str, ...] = ()
    split: str = "test"  # test | val | train | all; an empty split falls back (test, val, train)
    threshold: float | None = None  # None: the segmenter's calibrated threshold
    batch_size: int = 32
    device: str = "auto"
    limit: int | None = None  # at most this many faces, spread evenly over the split
    samples: int = 32  # rows of the contact sheet (0: none)
    photos: Path | None = None  # real unmasked photos for the full-pipeline numbers
    seed: int = 0  # synthetic masks on ``photos``

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise UsageError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.limit is not None and self.limit < 1:
            raise UsageError(f"--limit must be at least 1, got {self.limit}")
        if self.samples < 0:
            raise UsageError(f"--samples must be 0 or more, got {self.samples}")
        if self.threshold is not None and not 0.0 < self.threshold < 1.0:
            raise UsageError(f"--threshold must be between 0 and 1, got {self.threshold}")


def evaluate(config: EvaluateConfig, *, reporter: Reporter = null_reporter) -> dict:
    """Run the evaluation and write its files; returns the report (the content of ``report.json``)."""
    from maskaway_cli.data.layout import read_dataset
    from maskaway_cli.evaluation.crops import measure_crops
    from maskaway_cli.evaluation.photos import list_photos, measure_photos
    from maskaway_cli.evaluation.samples import choose_split, select
    from maskaway_cli.unmask.pipeline import Unmasker, resolve_weights
    from maskaway_cli.data.layout import pick_samples

    if Path(config.output).exists() and not Path(config.output).is_dir():
        raise UsageError(f"-o {config.output}: exists and is not a folder")
    index = read_dataset(config.dataset)
    split, indices = choose_split(index, config.split, reporter=reporter)
    samples = select(index, indices, limit=config.limit)
    photo_files = list_photos(config.photos) if config.photos is not None else []
    weights = resolve_weights(config.weights)
    unmasker = Unmasker(weights, device=config.device, threshold=config.threshold, batch_size=config.batch_size)

    picked = pick_samples([{"id": s.id, "mask_type": s.mask_type} for s in samples], config.samples)
    crops = measure_crops(samples, unmasker, batch_size=config.batch_size, sheet_ids={r["id"] for r in picked},
                          reporter=reporter)
    if not sum(crops.samples.values()):
        raise DatasetError(f"{config.dataset}: none of the {len(samples)} samples of split '{split}' could be read")
    photos = measure_photos(photo_files, unmasker, seed=config.seed, reporter=reporter) if photo_files else None

    report = _report(config, index, split, unmasker, weights, crops, photos)
    _write(config.output, report, [crops.sheet[r["id"]] for r in picked if r["id"] in crops.sheet])
    return report


def _report(config, index, split, unmasker, weights, crops, photos) -> dict:
    from maskaway_cli.data.layout import declared_size

    types = sorted(crops.samples)
    return {
        "schema_version": REPORT_SCHEMA_VERSION, "command": "evaluate", "maskaway_version": __version__,
        "dataset": {"path": str(index.root), "layout": index.layout, "image_size": declared_size(index.root)},
        "split": split, "split_requested": config.split, "limit": config.limit,
        "model_size": unmasker.size, "threshold": unmasker.threshold, "device": str(unmasker.device),
        "weights": {kind: {"path": str(p), "sha256": _sha256(p)} for kind, p in weights.items()},
        "counts": {
            "samples": sum(crops.samples.values()), "skipped": len(crops.skipped),
            "no_mask_found": sum(crops.no_mask.values()),
            "by_mask_type": {t: {"samples": crops.samples[t], "no_mask_found": crops.no_mask[t]} for t in types},
        },
        "skipped": [{"id": i, "reason": r} for i, r in crops.skipped],
        "crops": {
            "segmentation": {"overall": crops.seg.scores(None),
                             "by_mask_type": {t: crops.seg.scores(t) for t in types}},
            "inpainting": {"overall": crops.images.means(None),
                           "by_mask_type": {t: crops.images.means(t) for t in types}},
            "seconds": round(crops.seconds, 3),
            "faces_per_second": round(sum(crops.samples.values()) / crops.seconds, 2) if crops.seconds else None,
        },
        "photos": _photos_report(config, photos) if photos is not None else None,
        "contact_sheet": SHEET_NAME if crops.sheet else None,
    }


def _photos_report(config, photos) -> dict:
    types = sorted(photos.photos)
    return {
        "folder": str(config.photos), "seed": config.seed,
        "counts": {"photos": sum(photos.photos.values()), "skipped": len(photos.skipped),
                   "faces_masked": photos.faces_masked, "faces_found": photos.faces_found,
                   "masks_removed": photos.masks_removed,
                   "by_mask_type": {t: photos.photos[t] for t in types}},
        "skipped": [{"photo": n, "reason": r} for n, r in photos.skipped],
        "inpainting": {"overall": photos.images.means(None),
                       "by_mask_type": {t: photos.images.means(t) for t in types}},
        "seconds": round(photos.seconds, 3),
    }


def _write(output: Path, report: dict, rows: list) -> None:
    from maskaway_cli.evaluation.report import markdown
    from maskaway_cli.evaluation.sheet import write_sheet
    from maskaway_cli.imageio import atomic_write_text

    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    if rows:
        write_sheet(rows, output / SHEET_NAME)
    else:
        (output / SHEET_NAME).unlink(missing_ok=True)  # a sheet from an earlier run would not match this report
    atomic_write_text(output / "report.md", markdown(report))
    atomic_write_text(output / "report.json", json.dumps(report, indent=2, allow_nan=False) + "\n")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
