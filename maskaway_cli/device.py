"""Which torch device a command runs on (``--device auto|cpu|cuda``)."""

from __future__ import annotations

from maskaway_cli.errors import UsageError


def resolve_device(name: str):
    """``auto`` → CUDA when available, else the CPU; asking for CUDA without one is a usage error."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available (use --device cpu)")
    if name not in ("cpu", "cuda"):
        raise UsageError(f"--device must be auto, cpu or cuda, not {name!r}")
    return torch.device(name)
