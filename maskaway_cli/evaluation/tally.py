"""Running tallies of metrics, overall and per mask type, so a split of any size streams through.

Segmentation keeps confusion counts (micro average, see ``metrics.seg``); image metrics keep a sum and
a count of per-image values, so the reported figure is the mean over images.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence

from maskaway_cli.metrics.seg import SegCounts, seg_scores

PSNR_CAP = 100.0  # dB: an image reproduced exactly has infinite PSNR; capped so a mean stays finite
OVERALL = None  # the group key of the whole set


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
    """Means of per-image values per (group, method, metric). NaN (nothing to measure) is skipped."""

    def __init__(self) -> None:
        self._sum: dict[tuple[str | None, str, str], float] = defaultdict(float)
        self._n: dict[tuple[str | None, str, str], int] = defaultdict(int)
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
                self._sum[key] += value
                self._n[key] += 1

    def means(self, group: str | None) -> dict[str, dict[str, float | int]]:
        """``{method: {metric: mean, ..., "n": images, "n_in_mask": images with a non-empty true mask}}``."""
        out: dict[str, dict[str, float | int]] = {}
        for method in self.methods:
            row: dict[str, float | int] = {}
            for (g, m, metric), total in self._sum.items():
                if g == group and m == method:
                    row[metric] = total / self._n[g, m, metric]
            if row:
                row["n"] = self._n.get((group, method, "full_l1"), 0)
                row["n_in_mask"] = self._n.get((group, method, "mask_l1"), 0)
                out[method] = dict(sorted(row.items()))
        return out
