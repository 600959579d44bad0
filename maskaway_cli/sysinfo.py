"""What ``maskaway info`` reports, as plain data (no printing)."""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import platform
from pathlib import Path
from typing import Any

from maskaway_cli import __version__, paths


def _dist_version(name: str) -> str:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return "not installed"


def _device() -> dict[str, Any]:
    try:
        import torch
    except ImportError:
        return {"cuda": False, "name": None, "summary": "torch not installed"}
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        return {"cuda": True, "name": name, "summary": f"cuda ({name})"}
    return {"cuda": False, "name": None, "summary": "cpu (CUDA not available)"}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def installed_weights() -> list[dict[str, str]]:
    """Every ``*.safetensors`` in the bundled and the user weights folders, with its sha256."""
    found = []
    for origin, folder in (("bundled", paths.bundled_weights_dir()), ("user", paths.user_weights_dir())):
        for path in sorted(folder.glob("*.safetensors")) if folder.is_dir() else []:
            found.append({"name": path.stem, "origin": origin, "path": str(path), "sha256": _sha256(path)})
    return found


def collect() -> dict[str, Any]:
    """The whole ``info`` report."""
    versions = {
        "maskaway": __version__,
        "python": platform.python_version(),
        "torch": _dist_version("torch"),
        "torchvision": _dist_version("torchvision"),
        "dlib": _dist_version("dlib-bin") if _dist_version("dlib") == "not installed" else _dist_version("dlib"),
        "opencv": _dist_version("opencv-python-headless"),
        "platform": platform.platform(),
    }
    return {
        "versions": versions,
        "device": _device(),
        "paths": {k: str(v) for k, v in paths.all_paths().items()},
        "weights": installed_weights(),
    }
