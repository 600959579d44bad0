"""What both training loops share: device and AMP choice, data setup, the run folder, bad-step guard."""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from maskaway_cli.data.cache import Packed, open_packed
from maskaway_cli.device import bf16_is_fast, resolve_device
from maskaway_cli.data.io import save_png
from maskaway_cli.data.layout import read_dataset
from maskaway_cli.errors import DatasetError, TrainingError
from maskaway_cli.progress import Reporter, null_reporter
from maskaway_cli.train import dist
from maskaway_cli.train.config import TrainConfig
from maskaway_cli.train.state import append_stats, atomic_save


@dataclass(frozen=True)
class RunPaths:
    """The run folder of DESIGN.md."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def stats(self) -> Path:
        return self.root / "stats.jsonl"

    @property
    def samples(self) -> Path:
        return self.root / "samples"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def weights(self) -> Path:
        return self.root / "weights.safetensors"


@dataclass(frozen=True)
class TrainResult:
    status: str  # finished | early_stopped | interrupted | exported
    step: int
    run_dir: Path
    weights: Path | None = None
    signum: int | None = None
    metrics: dict[str, float] | None = None


@dataclass(frozen=True)
class Setup:
    device: torch.device
    amp: bool  # bf16 autocast in effect
    channels_last: bool
    packed: Packed
    train_rows: np.ndarray  # indices into packed
    val_rows: np.ndarray
    dist: dist.Dist = dist.SINGLE  # this process's rank under torchrun




def choose_rows(packed: Packed, cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """Training rows (a seeded subset of the train split) and validation rows (first ``val_limit``
    of the val split; held out of train when the dataset has no val split)."""
    train = packed.split("train")
    rng = np.random.default_rng(cfg.seed)
    train = train[rng.permutation(len(train))]
    val = packed.split("val")
    if len(val) == 0 and len(train) > 1:
        hold = max(1, len(train) // 20)
        train, val = train[:-hold], np.sort(train[-hold:])
    if cfg.subset is not None and cfg.subset > 0:
        train = train[: cfg.subset]
    if len(train) < cfg.batch_size:
        raise DatasetError(f"{cfg.dataset}: {len(train)} training samples, fewer than one batch of "
                           f"{cfg.batch_size} (lower --batch-size)")
    return np.sort(train), val[: cfg.val_limit]


def prepare(cfg: TrainConfig, reporter: Reporter) -> Setup:
    d = dist.from_env()
    device = dist.start(d, resolve_device(cfg.device))
    dist.check_batch(d, cfg.batch_size)
    index = read_dataset(Path(cfg.dataset))
    if not d.main:
        dist.barrier(d)  # rank 0 packs the cache; the others then open it
    packed = open_packed(index, workers=cfg.workers, reporter=reporter if d.main else null_reporter)
    if d.main:
        dist.barrier(d)
    train, val = choose_rows(packed, cfg)
    cl = cfg.channels_last if cfg.channels_last is not None else True  # faster on CUDA and, measured, CPU
    return Setup(device, cfg.amp and bf16_is_fast(device), cl, packed, train, val, d)


def feeder_for(setup: Setup, cfg: TrainConfig):
    """The shuffled batch stream of the run; under torchrun each rank reads its share of each batch."""
    from maskaway_cli.data.feeder import BatchFeeder

    return BatchFeeder(setup.packed, setup.train_rows, batch_size=cfg.batch_size, seed=cfg.seed,
                       device=setup.device, channels_last=setup.channels_last,
                       shard=(setup.dist.rank, setup.dist.world))


def rank_seed(setup: Setup, seed: int) -> None:
    """After the (identical) initialisation, ranks > 0 draw their own augmentation noise."""
    if setup.dist.rank:
        torch.manual_seed(seed + 7919 * setup.dist.rank)


def autocast(setup: Setup):
    """bf16 autocast where it is fast (CUDA; CPUs with native bf16): no loss scaler needed, bf16 has
    fp32's exponent range. Elsewhere fp32."""
    if setup.amp:
        return torch.autocast(setup.device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def total_steps(cfg: TrainConfig, steps_per_epoch: int) -> int:
    if cfg.steps is not None:
        return cfg.steps
    return (cfg.epochs or 1) * steps_per_epoch




def grad_norm(params) -> torch.Tensor:
    """Total gradient 2-norm (a 0-d tensor; no host sync)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.float()) for g in grads]))


class BadStepGuard:
    """Counts consecutive non-finite steps; past ``limit`` it writes a crash checkpoint beside the last
    good one and raises, instead of letting NaNs spread into every weight and checkpoint."""

    def __init__(self, limit: int, run: RunPaths, *, write: bool = True) -> None:
        self.limit, self.run, self.bad, self.write = limit, run, 0, write

    def ok(self, loss: torch.Tensor, norm: torch.Tensor) -> bool:
        finite = bool(torch.isfinite(loss.detach().float()) & torch.isfinite(norm.float()))  # one sync
        self.bad = 0 if finite else self.bad + 1
        return finite

    def check(self, step: int, state_fn) -> None:
        if self.bad >= self.limit:
            name = f"crash-{step:07d}.pt"
            if self.write:
                atomic_save(state_fn(), self.run.checkpoints / name)
            raise TrainingError(f"{self.bad} non-finite steps in a row at step {step}: stopped; crash "
                                f"checkpoint {name} written beside the last good one (try a lower --lr)")


def save_grid(path: Path, rows: list[torch.Tensor]) -> None:
    """rows: each (B,C,H,W) in [0,1] (C 1 or 3) -> one PNG, a row per tensor, a column per sample."""
    strips = []
    for r in rows:
        r = r.detach().float().cpu().clamp(0, 1)
        if r.shape[1] == 1:
            r = r.expand(-1, 3, -1, -1)
        strips.append(torch.cat(list(r), dim=2))  # (3,H,B*W)
    grid = torch.cat(strips, dim=1)  # (3,rows*H,B*W)
    save_png(path, (grid.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8))


class RunWriter:
    """The run folder's writes, done by rank 0 alone; the random state of every rank is gathered into
    each checkpoint (a collective: every rank calls :meth:`checkpoint` at the same steps)."""

    def __init__(self, run: RunPaths, setup: Setup, keep: int) -> None:
        self.run, self.dist, self.keep = run, setup.dist, keep

    @property
    def main(self) -> bool:
        return self.dist.main

    def config(self, cfg: TrainConfig, extra: dict[str, Any]) -> None:
        """``config.json``: the options, what they resolved to, and the process layout."""
        if not self.main:
            return
        doc = {**cfg.to_dict(), **extra, "world_size": self.dist.world,
               "rank_batch_size": cfg.batch_size // self.dist.world}
        self.run.root.mkdir(parents=True, exist_ok=True)
        tmp = self.run.config.with_name("config.json.tmp")
        tmp.write_text(json.dumps(doc, indent=2), encoding="utf-8")
        os.replace(tmp, self.run.config)

    def stats(self, record: dict[str, Any]) -> None:
        if self.main:
            append_stats(self.run.stats, record)

    def grid(self, name: str, rows: list[torch.Tensor]) -> None:
        if self.main:
            save_grid(self.run.samples / name, rows)

    def checkpoint(self, state_fn, step: int) -> None:
        from maskaway_cli.train.state import rng_state, save_checkpoint

        rngs = dist.gather(rng_state(), self.dist)
        if self.main:
            state = state_fn()
            if self.dist.enabled:
                state["rng_ranks"] = rngs
            save_checkpoint(self.run.checkpoints, state, step, keep=self.keep)


def resume_rng(ck: dict[str, Any], setup: Setup) -> dict[str, Any]:
    """This rank's saved random state (rank 0's when the process count changed: then not exact)."""
    ranks = ck.get("rng_ranks") or []
    return ranks[setup.dist.rank] if len(ranks) == setup.dist.world else ck["rng"]


def maybe_compile(model: torch.nn.Module, enabled: bool):
    """The module to call: compiled when asked; state dicts always come from the original module."""
    return torch.compile(model) if enabled else model
