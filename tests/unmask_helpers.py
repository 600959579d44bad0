"""Tiny random-weight models for unmask/evaluate tests (the pipeline, not the model quality, is tested)."""

from __future__ import annotations

from pathlib import Path


def make_weights(folder: Path, *, size: int = 64, seed: int = 0) -> dict[str, Path]:
    import torch

    from maskaway_cli.models import Generator, Segmenter, UNetConfig
    from maskaway_cli.weights_io import WeightsMeta, save_weights

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    out = {}
    for kind, cls, cin, cout in (("segmenter", Segmenter, 3, 1), ("generator", Generator, 4, 3)):
        cfg = UNetConfig.for_size(size, in_channels=cin, out_channels=cout, base_channels=8, max_channels=16)
        model = cls(cfg).eval()
        out[kind] = save_weights(folder / f"{kind}.safetensors", model.state_dict(),
                                 WeightsMeta(kind=kind, arch=cfg.to_dict(), image_size=size))
    return out
