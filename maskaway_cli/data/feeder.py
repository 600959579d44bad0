"""Batches from the packed cache, with no per-step decoding and an exactly resumable order.

The batch at global position ``p`` is a pure function of ``(seed, p)``: epoch ``p // per_epoch``
shuffles the rows with a generator seeded by ``(seed, epoch)``. Resuming therefore needs only the
position, not an iterator's hidden state. On CUDA the selected rows are uploaded once as uint8 when
they fit (``resident``), so a batch is a GPU gather; on the CPU they stay memory-mapped.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from maskaway_cli.data.cache import Packed


@dataclass(frozen=True)
class Batch:
    masked: torch.Tensor  # (B,3,S,S) float32 RGB in [0,1]
    original: torch.Tensor  # (B,3,S,S) float32 RGB in [0,1]
    mask: torch.Tensor  # (B,1,S,S) float32 in {0,1}


def to_batch(masked: torch.Tensor, original: torch.Tensor, binary: torch.Tensor, device: torch.device,
             *, channels_last: bool = False) -> Batch:
    """uint8 (B,S,S,3), (B,S,S,3), (B,S,S) on any device -> float :class:`Batch` on ``device``.

    The uint8 tensors move first (4x fewer bytes than float) and convert on the target device.
    """
    fmt = torch.channels_last if channels_last else torch.contiguous_format

    def rgb(x: torch.Tensor) -> torch.Tensor:
        x = x.to(device, non_blocking=True).permute(0, 3, 1, 2)  # (B,3,S,S) uint8, a view
        return x.float().div_(255).contiguous(memory_format=fmt)

    m = binary.to(device, non_blocking=True).unsqueeze(1).float()  # (B,1,S,S) in {0,1}
    return Batch(rgb(masked), rgb(original), m.contiguous(memory_format=fmt))


class BatchFeeder:
    """Shuffled, drop-last batches of ``rows`` (indices into ``packed``)."""

    def __init__(self, packed: Packed, rows: np.ndarray, *, batch_size: int, seed: int,
                 device: torch.device, resident: bool | None = None, channels_last: bool = False,
                 shard: tuple[int, int] = (0, 1)) -> None:
        if len(rows) < batch_size:
            raise ValueError(f"{len(rows)} samples is fewer than one batch of {batch_size}")
        self.packed, self.rows, self.batch_size, self.seed = packed, np.asarray(rows), batch_size, seed
        self.rank, self.world = shard  # this process's share of every (global) batch
        self.device, self.channels_last = torch.device(device), channels_last
        self.per_epoch = len(rows) // batch_size
        self._perm: tuple[int, torch.Tensor] | None = None
        if resident is None:
            resident = self.device.type == "cuda" and self._fits_on_gpu()
        self.resident = resident
        self._gpu = None
        if resident:
            # One upload of the selected rows as uint8; batches are then device-side gathers.
            self._gpu = tuple(torch.from_numpy(np.ascontiguousarray(a[self.rows])).to(self.device)
                              for a in (packed.masked, packed.original, packed.binary))

    def _fits_on_gpu(self) -> bool:
        need = len(self.rows) * self.packed.size**2 * 7  # bytes: 3 + 3 + 1 per pixel
        free, _ = torch.cuda.mem_get_info(self.device)
        return need < 0.4 * free  # leave most of the memory to the models

    def epoch_of(self, position: int) -> int:
        return position // self.per_epoch

    def _order(self, epoch: int) -> torch.Tensor:
        if self._perm is None or self._perm[0] != epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._perm = (epoch, torch.randperm(len(self.rows), generator=g))
        return self._perm[1]

    def select(self, position: int) -> np.ndarray:
        """Positions (into ``rows``) of batch ``position``, sorted so memory-mapped reads go forward;
        with a shard, this rank's contiguous part of them (the ranks' parts make up the batch)."""
        k = position % self.per_epoch
        sel = np.sort(self._order(self.epoch_of(position))[k * self.batch_size:(k + 1) * self.batch_size].numpy())
        part = self.batch_size // self.world
        return sel[self.rank * part:(self.rank + 1) * part]

    def raw(self, position: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """uint8 tensors of batch ``position`` (on the GPU when resident, else on the CPU)."""
        sel = self.select(position)
        if self._gpu is not None:
            idx = torch.from_numpy(sel).to(self.device)
            return tuple(a.index_select(0, idx) for a in self._gpu)  # type: ignore[return-value]
        rows = self.rows[sel]
        out = tuple(torch.from_numpy(a[rows]) for a in (self.packed.masked, self.packed.original,
                                                         self.packed.binary))
        if self.device.type == "cuda":
            out = tuple(t.pin_memory() for t in out)
        return out  # type: ignore[return-value]

    def batch(self, position: int) -> Batch:
        return to_batch(*self.raw(position), self.device, channels_last=self.channels_last)

    def stream(self, start: int, *, prefetch: int = 0) -> Iterator[Batch]:
        """Batches ``start, start+1, ...``; ``prefetch > 0`` gathers that many ahead on a thread."""
        if prefetch <= 0 or self._gpu is not None:
            pos = start
            while True:
                yield self.batch(pos)
                pos += 1
        q: queue.Queue = queue.Queue(maxsize=prefetch)
        stop = threading.Event()

        def work() -> None:
            pos = start
            while not stop.is_set():
                item = self.raw(pos)
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                pos += 1

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        try:
            while True:
                yield to_batch(*q.get(), self.device, channels_last=self.channels_last)
        finally:
            stop.set()
            thread.join(timeout=5)  # never leave a thread running torch code at interpreter exit


def fixed_batch(packed: Packed, rows: np.ndarray, device: torch.device) -> Batch:
    """The given rows as one batch (validation sets, sample grids)."""
    rows = np.asarray(rows)
    return to_batch(*(torch.from_numpy(np.ascontiguousarray(a[rows]))
                      for a in (packed.masked, packed.original, packed.binary)), torch.device(device))
