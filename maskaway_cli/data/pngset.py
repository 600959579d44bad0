"""A plain per-image PNG ``torch.utils.data.Dataset``: the reference the packed path is measured
against (``benchmarks/bench_train.py``), and a fallback for one-off scripts."""

from __future__ import annotations

import numpy as np
import torch

from maskaway_cli.data.io import read_binary, read_rgb
from maskaway_cli.data.layout import DatasetIndex


class PngTriplets(torch.utils.data.Dataset):
    """Item i: (masked (3,S,S), original (3,S,S)) float32 RGB in [0,1], mask (1,S,S) in {0,1}."""

    def __init__(self, index: DatasetIndex, rows: list[int] | np.ndarray) -> None:
        self.samples = [index.samples[int(i)] for i in rows]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        s = self.samples[i]
        rgb = lambda p: torch.from_numpy(read_rgb(p)).permute(2, 0, 1).float() / 255  # noqa: E731
        mask = torch.from_numpy(read_binary(s.binary))[None].float()
        return rgb(s.masked), rgb(s.original), mask
