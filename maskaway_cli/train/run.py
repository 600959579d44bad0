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
from maskaway_cli.progress import Reporter
from maskaway_cli.train.config import TrainConfig
from maskaway_cli.train.state import atomic_save


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
    device = resolve_device(cfg.device)
    packed = open_packed(read_dataset(Path(cfg.dataset)), workers=cfg.workers, reporter=reporter)
    train, val = choose_rows(packed, cfg)
    cl = cfg.channels_last if cfg.channels_last is not None else True  # faster on CUDA and, measured, CPU
    return Setup(device, cfg.amp and bf16_is_fast(device), cl, packed, train, val)


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


def write_config(run: RunPaths, cfg: TrainConfig, extra: dict[str, Any]) -> None:
    run.root.mkdir(parents=True, exist_ok=True)
    tmp = run.config.with_name("config.json.tmp")
    tmp.write_text(json.dumps({**cfg.to_dict(), **extra}, indent=2), encoding="utf-8")
    os.replace(tmp, run.config)


def grad_norm(params) -> torch.Tensor:
    """Total gradient 2-norm (a 0-d tensor; no host sync)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.float()) for g in grads]))


class BadStepGuard:
    """Counts consecutive non-finite steps; past ``limit`` it writes a crash checkpoint beside the last
    good one and raises, instead of letting NaNs spread into every weight and checkpoint."""

    def __init__(self, limit: int, run: RunPaths) -> None:
        self.limit, self.run, self.bad = limit, run, 0

    def ok(self, loss: torch.Tensor, norm: torch.Tensor) -> bool:
        finite = bool(torch.isfinite(loss.detach().float()) & torch.isfinite(norm.float()))  # one sync
        self.bad = 0 if finite else self.bad + 1
        return finite

    def check(self, step: int, state_fn) -> None:
        if self.bad >= self.limit:
            path = atomic_save(state_fn(), self.run.checkpoints / f"crash-{step:07d}.pt")
            raise TrainingError(f"{self.bad} non-finite steps in a row at step {step}: stopped; crash "
                                f"checkpoint {path.name} written beside the last good one (try a lower --lr)")


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


def maybe_compile(model: torch.nn.Module, enabled: bool):
    """The module to call: compiled when asked; state dicts always come from the original module."""
    return torch.compile(model) if enabled else model
