"""Segmentation metrics from a confusion count, so they aggregate exactly over many batches.

Counts are summed over a whole set first and the scores computed once (micro average): a batch of
tiny masks cannot dominate the result the way a mean of per-batch scores would let it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SegCounts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def __add__(self, other: SegCounts) -> SegCounts:
        return SegCounts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.tn + other.tn)


def seg_counts(pred: torch.Tensor, target: torch.Tensor) -> SegCounts:
    """Confusion counts. pred, target: (B,1,H,W) (or any equal shape) bool or {0,1}."""
    p, t = pred.bool(), target.bool()
    stacked = torch.stack([(p & t).sum(), (p & ~t).sum(), (~p & t).sum(), (~p & ~t).sum()])
    tp, fp, fn, tn = (int(v) for v in stacked.tolist())  # one device sync for all four
    return SegCounts(tp, fp, fn, tn)


def seg_scores(c: SegCounts) -> dict[str, float]:
    """IoU, Dice, precision, recall and leftover in [0,1]; an empty prediction of an empty target scores 1.

    ``leftover`` is the share of true mask pixels outside the prediction (1 - recall): what of a mask
    would stay in the photo if exactly the prediction were painted.
    """

    def ratio(num: int, den: int) -> float:
        return num / den if den else 1.0

    return {
        "iou": ratio(c.tp, c.tp + c.fp + c.fn),
        "dice": ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn),
        "precision": ratio(c.tp, c.tp + c.fp),
        "recall": ratio(c.tp, c.tp + c.fn),
        "leftover": 1.0 - ratio(c.tp, c.tp + c.fn),
    }
