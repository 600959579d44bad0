"""Running tallies of metrics, overall and per mask type, so a split of any size streams through.

Segmentation keeps confusion counts (micro average, see ``metrics.seg``); image metrics keep their
per-image values: the reported figure is the mean over images, or the median for a ratio whose mean a
few near-empty regions would run away with (:data:`MEDIAN_METRICS`).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence

from maskaway_cli.metrics.seg import SegCounts, seg_scores

PSNR_CAP = 100.0  # dB: an image reproduced exactly has infinite PSNR; capped so a mean stays finite
OVERALL = None  # the group key of the whole set
MEDIAN_METRICS = ("mask_sharpness",)  # reported as the median over images


class SegTally:
    """Confusion counts per (group, variant); every sample also counts towards the overall group."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str | None, str], SegCounts] = defaultdict(SegCounts)

    def add(self, group: str, variant: str, counts: SegCounts) -> None:
        for key in (OVERALL, group):
            self._counts[key, variant] = self._counts[key, variant] + counts

    def scores(self, group: str | None) -> dict[str, dict[str, float]]:
        """``{variant: {iou, dice, precision, recall}}`` of one group (``None``: overall)."""
        return {v: seg_scores(c) for (g, v), c in sorted(self._counts.items(), key=lambda kv: kv[0][1]) if g == group}


class MeanTally:
    """Means (medians for :data:`MEDIAN_METRICS`) of per-image values per (group, method, metric).
    NaN (nothing to measure) is skipped."""

    def __init__(self) -> None:
        self._values: dict[tuple[str | None, str, str], list[float]] = defaultdict(list)
        self.methods: list[str] = []  # in first-seen order, so tables keep the order callers chose

    def add(self, groups: Sequence[str], method: str, metric: str, values: Iterable[float]) -> None:
        """One value per sample; ``groups[i]`` is sample i's mask type."""
        if method not in self.methods:
            self.methods.append(method)
        for group, value in zip(groups, values, strict=True):
            value = float(value)
            if math.isnan(value):
                continue
            if metric.endswith("psnr"):
                value = min(value, PSNR_CAP)
            for key in ((OVERALL, method, metric), (group, method, metric)):
                self._values[key].append(value)

    def means(self, group: str | None) -> dict[str, dict[str, float | int]]:
        """``{method: {metric: mean, ..., "n": images, "n_in_mask": images with a non-empty true mask}}``."""
        out: dict[str, dict[str, float | int]] = {}
        count = lambda key: len(self._values.get(key, ()))  # noqa: E731
        for method in self.methods:
            row: dict[str, float | int] = {}
            for (g, m, metric), values in self._values.items():
                if g == group and m == method:
                    row[metric] = statistics.median(values) if metric in MEDIAN_METRICS else math.fsum(values) / len(values)
            if row:
                row["n"] = count((group, method, "full_l1"))
                row["n_in_mask"] = count((group, method, "mask_l1"))
                out[method] = dict(sorted(row.items()))
        return out
