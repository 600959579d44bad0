"""Evaluate on aligned dataset crops: segmentation at the threshold, and inpainting four ways.

Methods measured on the same samples in the same run:
- ``pipeline``: what ``maskaway unmask`` does, predicted (cleaned) mask -> generator; a face whose mask
  comes out too small is left as it is, and measured as such;
- ``generator_true_mask``: the generator given the true mask (inpainting quality alone);
- ``baseline_masked_input``: the masked photo itself (doing nothing);
- ``baseline_telea``: OpenCV's Telea inpainting of the true mask (a classical fill).
Segmentation is scored twice: ``cleaned`` (the pipeline's mask after component filtering and dilation)
and ``raw`` (segmenter probability >= threshold, nothing else).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from maskaway_cli.evaluation.measure import image_metrics, telea
from maskaway_cli.evaluation.samples import Batch, EvalSample, load_batch
from maskaway_cli.evaluation.sheet import sheet_row
from maskaway_cli.evaluation.tally import MeanTally, SegTally
from maskaway_cli.progress import Reporter, null_reporter

METHODS = ("pipeline", "generator_true_mask", "baseline_masked_input", "baseline_telea")


@dataclass
class CropResults:
    seg: SegTally = field(default_factory=SegTally)
    images: MeanTally = field(default_factory=MeanTally)
    samples: Counter = field(default_factory=Counter)  # mask type -> samples measured
    no_mask: Counter = field(default_factory=Counter)  # mask type -> faces the pipeline left untouched
    skipped: list[tuple[str, str]] = field(default_factory=list)
    sheet: dict[str, np.ndarray] = field(default_factory=dict)  # id -> contact-sheet row
    seconds: float = 0.0


def measure_crops(samples: list[EvalSample], unmasker, *, batch_size: int, sheet_ids: set[str] = frozenset(),
                  reporter: Reporter = null_reporter) -> CropResults:
    """Stream ``samples`` through ``unmasker`` in batches (memory stays flat) and tally every metric."""
    res = CropResults()
    start = time.perf_counter()
    reporter("begin", task="evaluate", total=len(samples), unit="face", description="Evaluating")
    for lo in range(0, len(samples), batch_size):
        batch = load_batch(samples[lo : lo + batch_size], unmasker.size)
        res.skipped.extend(batch.skipped)
        for sid, reason in batch.skipped:
            reporter("note", text=f"skipped sample {sid}: {reason}")
        if batch.ids:
            _measure_batch(batch, unmasker, res, sheet_ids)
        reporter("advance", task="evaluate", n=len(batch.ids) + len(batch.skipped))
    reporter("end", task="evaluate")
    res.seconds = time.perf_counter() - start
    return res


def seg_probs(unmasker, masked: np.ndarray) -> np.ndarray:
    """Segmenter probabilities: (B,S,S,3) uint8 RGB -> (B,S,S) float32 in [0,1], as the pipeline sees them."""
    return unmasker.probabilities(list(masked))


def run_pipeline(unmasker, masked: np.ndarray) -> tuple[np.ndarray, list]:
    """What ``unmasker(crops)`` does (threshold, clean, inpaint, too-small check), with the segmenter run
    once so the raw mask comes for free. Returns (raw (B,S,S) bool, per-face ``FaceOutput``); a test
    checks the outputs equal ``unmasker(crops)``."""
    probs, summary = unmasker.segment(list(masked))  # (B,S,S) float32, (B,F)
    return probs >= unmasker.threshold, unmasker(list(masked), probs=probs, summary=summary)


def _measure_batch(batch: Batch, unmasker, res: CropResults, sheet_ids: set[str]) -> None:
    crops = list(batch.masked)
    raw, piped = run_pipeline(unmasker, batch.masked)
    given = unmasker(crops, masks=[t.astype(np.uint8) * 255 for t in batch.truth])
    cleaned = np.stack([o.mask > 0 for o in piped])  # (B,S,S) bool; empty where the face was left as is
    _tally_seg(res, batch, {"cleaned": cleaned, "raw": raw})
    results = {
        "pipeline": np.stack([o.result for o in piped]),  # (B,S,S,3) uint8
        "generator_true_mask": np.stack([o.result for o in given]),
        "baseline_masked_input": batch.masked,
        "baseline_telea": np.stack([telea(m, t) for m, t in zip(batch.masked, batch.truth)]),
    }
    for method in METHODS:
        for metric, values in image_metrics(results[method], batch.original, batch.truth).items():
            res.images.add(batch.types, method, metric, values)
    res.samples.update(batch.types)
    res.no_mask.update(t for t, o in zip(batch.types, piped) if not o.has_mask)
    for i, sid in enumerate(batch.ids):
        if sid in sheet_ids:
            res.sheet[sid] = sheet_row(batch.masked[i], cleaned[i], batch.truth[i], results["pipeline"][i],
                                       batch.original[i])


def _tally_seg(res: CropResults, batch: Batch, preds: dict[str, np.ndarray]) -> None:
    import torch

    from maskaway_cli.metrics.seg import seg_counts

    truth = torch.from_numpy(batch.truth)  # (B,S,S) bool
    for variant, pred in preds.items():
        p = torch.from_numpy(pred)
        for i, group in enumerate(batch.types):  # per sample, so each lands in its mask type's tally
            res.seg.add(group, variant, seg_counts(p[i], truth[i]))
