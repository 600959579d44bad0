"""The WGAN-GP critic: strided 4x4 convolutions, LeakyReLU, no batch norm, a linear head.

Batch norm is left out on purpose: the gradient penalty is defined per sample, and batch statistics
would couple the samples of a batch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class CriticConfig:
    """Filters per stride-2 4x4 layer. At 64 px the five layers take 64x64 down to 2x2; larger images
    get extra layers of the last width (one per doubling) so the head always sees a 2x2 map."""

    image_size: int = 64
    filters: tuple[int, ...] = (64, 64, 128, 256, 512)
    dropout: float = 0.3  # on the first two layers, as in the method
    mask_channel: bool = True  # condition on the binary mask (4 input channels)

    def layer_filters(self) -> list[int]:
        """Filters for every layer: the base list, extended with its last width for > 64 px."""
        extra = int(math.log2(self.image_size)) - 6
        if self.image_size < 32 or self.image_size & (self.image_size - 1):
            raise ValueError(f"image size must be a power of two >= 32, got {self.image_size}")
        if extra < 0:
            return list(self.filters[: len(self.filters) + extra])
        return list(self.filters) + [self.filters[-1]] * extra

    def to_dict(self) -> dict:
        d = asdict(self)
        d["filters"] = list(self.filters)
        return d


class Critic(nn.Module):
    """Image (+ mask) -> one unbounded score per sample.

    ``forward(x, m=None)``: x (B,3,H,W) RGB in [-1,1]; m (B,1,H,W) in {0,1} when ``mask_channel``.
    Returns (B,) scores.
    """

    def __init__(self, config: CriticConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        cin = 4 if config.mask_channel else 3
        for i, cout in enumerate(config.layer_filters()):
            layers += [nn.Conv2d(cin, cout, 4, stride=2, padding=1), nn.LeakyReLU(0.2, inplace=True)]
            if i < 2 and config.dropout > 0:
                layers.append(nn.Dropout(config.dropout))
            cin = cout
        self.features = nn.Sequential(*layers)
        side = config.image_size // 2 ** len(config.layer_filters())
        self.head = nn.Linear(cin * side * side, 1)

    def _input(self, x: torch.Tensor, m: torch.Tensor | None) -> torch.Tensor:
        if self.config.mask_channel:
            if m is None:
                raise ValueError("this critic is conditioned on the mask: pass m")
            return torch.cat([x, m], dim=1)  # (B,4,H,W)
        return x

    def forward(self, x: torch.Tensor, m: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.features(self._input(x, m)).flatten(1)).squeeze(1)  # (B,)

    def scores_and_features(self, x: torch.Tensor, m: torch.Tensor | None = None,
                            ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(B,) scores and the activation after every LeakyReLU, full to coarse, for feature matching."""
        h, feats = self._input(x, m), []
        for layer in self.features:
            h = layer(h)
            if isinstance(layer, nn.LeakyReLU):
                feats.append(h)
        return self.head(h.flatten(1)).squeeze(1), feats
