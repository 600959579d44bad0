"""Export and load model weights: ``*.safetensors`` with the metadata needed to rebuild the model.

The file holds a plain state dict (for the generator: the EMA copy) and one metadata entry,
``maskaway``, a JSON object: ``format_version``, ``kind`` ("segmenter" | "generator" | "presence"),
``arch`` (the :class:`UNetConfig` fields, or :class:`PresenceConfig`'s for the mask-presence classifier), ``image_size`` and free-form ``info``. ``unmask`` and ``evaluate``
load weights through :func:`load_model` and need nothing else. No pickle anywhere.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maskaway_cli.errors import WeightsError

FORMAT_VERSION = 1
KINDS = ("segmenter", "generator", "presence")


@dataclass(frozen=True)
class WeightsMeta:
    kind: str
    arch: dict[str, int]
    image_size: int
    format_version: int = FORMAT_VERSION
    info: dict[str, Any] = field(default_factory=dict)


def save_weights(path: Path, state_dict: dict[str, Any], meta: WeightsMeta) -> Path:
    """Write ``state_dict`` (tensors) with ``meta`` atomically (temp file + rename)."""
    from safetensors.torch import save_file

    if meta.kind not in KINDS:
        raise WeightsError(f"unknown weights kind {meta.kind!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    doc = {"format_version": meta.format_version, "kind": meta.kind, "arch": meta.arch,
           "image_size": meta.image_size, "info": meta.info}
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata={"maskaway": json.dumps(doc)})
    os.replace(tmp, path)
    return path


def fingerprint(model) -> str:
    """A short sha256 of a model's tensors as fp16, in key order: the same for a run's fp32 weights and
    their fp16 bundle, different for any other training. Ties a presence probe to its segmenter."""
    import hashlib

    import torch

    digest = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        digest.update(key.encode())
        if value.is_floating_point():
            value = value.to(torch.float16)
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def read_meta(path: Path) -> WeightsMeta:
    """Read only the metadata of a weights file."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as fh:
            raw = (fh.metadata() or {}).get("maskaway")
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise WeightsError(f"{path}: not a safetensors file ({exc})") from None
    if raw is None:
        raise WeightsError(f"{path}: no MaskAway metadata (not exported by maskaway train)")
    try:
        doc = json.loads(raw)
        meta = WeightsMeta(kind=doc["kind"], arch=dict(doc["arch"]), image_size=int(doc["image_size"]),
                           format_version=int(doc["format_version"]), info=dict(doc.get("info", {})))
    except (ValueError, KeyError, TypeError) as exc:
        raise WeightsError(f"{path}: malformed MaskAway metadata ({exc})") from None
    if meta.format_version > FORMAT_VERSION:
        raise WeightsError(f"{path}: weights format {meta.format_version} is newer than this MaskAway "
                           f"supports ({FORMAT_VERSION}); upgrade maskaway")
    if meta.kind not in KINDS:
        raise WeightsError(f"{path}: unknown weights kind {meta.kind!r}")
    return meta


def load_model(path: Path, *, kind: str | None = None, device: str = "cpu"):
    """Rebuild the model a weights file describes, in eval mode. Returns ``(model, meta)``.

    ``kind`` (optional) is checked: loading a segmenter where a generator is expected is an error.
    """
    from safetensors.torch import load_file

    from maskaway_cli.models import Generator, Segmenter, UNetConfig
    from maskaway_cli.models.presence import PresenceConfig, PresenceNet

    meta = read_meta(path)
    if kind is not None and meta.kind != kind:
        raise WeightsError(f"{path}: holds a {meta.kind}, expected a {kind}")
    try:
        if meta.kind == "presence":
            model = PresenceNet(PresenceConfig.from_dict(meta.arch))
        else:
            model = (Segmenter if meta.kind == "segmenter" else Generator)(UNetConfig(**meta.arch))
        model.load_state_dict(load_file(str(path), device="cpu"))
    except (TypeError, ValueError, RuntimeError, KeyError) as exc:
        raise WeightsError(f"{path}: weights do not match their architecture ({exc})") from None
    return model.to(device).eval(), meta
