"""Run state: checkpoints (atomic, keep last N, ``weights_only``-loadable), EMA, RNG, signals, stats.

A checkpoint is a dict of tensors, numbers, strings, lists and dicts only, so it loads with
``torch.load(weights_only=True)``: no pickled objects, nothing executed on load.
"""

from __future__ import annotations

import copy
import json
import os
import re
import signal
import threading
from pathlib import Path
from typing import Any

import torch

from maskaway_cli.errors import TrainingError

CKPT_FORMAT = 1
_CKPT = re.compile(r"^ckpt-(\d{7,})\.pt$")


# ---- checkpoints -------------------------------------------------------------------------------

def atomic_save(obj: dict[str, Any], path: Path) -> Path:
    """torch.save through a temp file + rename: a crash never leaves a half-written checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)
    return path


def save_checkpoint(folder: Path, state: dict[str, Any], step: int, *, keep: int) -> Path:
    """Write ``ckpt-{step:07d}.pt`` and delete all but the newest ``keep`` periodic checkpoints."""
    path = atomic_save(state, folder / f"ckpt-{step:07d}.pt")
    for old in periodic_checkpoints(folder)[:-max(1, keep)]:
        old.unlink(missing_ok=True)
    return path


def periodic_checkpoints(folder: Path) -> list[Path]:
    """Periodic checkpoints, oldest first."""
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if _CKPT.match(p.name)), key=lambda p: p.name)


def load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling errors come in many types
        raise TrainingError(f"cannot read checkpoint {path}: {exc}") from None


def check_arch(saved: dict[str, Any], current: dict[str, Any], path: Path) -> None:
    """A run folder resumes only with the architecture it was started with."""
    if saved != current:
        diff = sorted(k for k in set(saved) | set(current) if saved.get(k) != current.get(k))
        detail = ", ".join(f"{k}: {saved.get(k)!r} -> {current.get(k)!r}" for k in diff)
        raise TrainingError(f"{path.parent.parent} was trained with another architecture ({detail}); "
                            "use the original options or a new run folder")


# ---- random state ------------------------------------------------------------------------------

def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ---- EMA ---------------------------------------------------------------------------------------

class EMA:
    """Exponential moving average of a model's parameters; buffers (BatchNorm stats) are copied."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        for e, p in zip(self.model.parameters(), model.parameters()):
            e.lerp_(p.detach(), 1 - self.decay)
        for e, b in zip(self.model.buffers(), model.buffers()):
            e.copy_(b)


# ---- signals -----------------------------------------------------------------------------------

class GracefulStop:
    """SIGINT/SIGTERM set a flag the loop checks after each step (it then checkpoints and returns);
    a second signal interrupts at once. Installs handlers only in the main thread."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def handle(self, signum: int, frame: object) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum

    def __enter__(self) -> GracefulStop:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self.handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()


# ---- stats -------------------------------------------------------------------------------------

def append_stats(path: Path, record: dict[str, Any]) -> None:
    """One JSON line per record, flushed at once so ``tail -f`` and a crash both see it."""
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")
