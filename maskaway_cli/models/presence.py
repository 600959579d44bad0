"""Is a mask being worn? A small CNN that scores an aligned face, independent of the segmenter.

The segmenter was trained on synthetic masks and finds something mask-like on most real faces (a beard, a
shadow, a scarf); its own confidence separates real masked from unmasked faces poorly. This classifier is
trained on real labelled faces as well as synthetic ones (``train/presence.py``), and ``unmask`` paints a
face only when it says a mask is there.

It sees the aligned crop at ``input_size`` (64 px by default: whether a mask is worn does not need 128 px,
and small faces in street photos have no more detail than that anyway).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class PresenceConfig:
    input_size: int = 64
    widths: tuple[int, ...] = (24, 48, 96, 160)  # one conv + pool per width: 64 → 4 px
    dropout: float = 0.3

    def to_dict(self) -> dict:
        d = asdict(self)
        d["widths"] = list(self.widths)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "PresenceConfig":
        return cls(input_size=int(d["input_size"]), widths=tuple(int(w) for w in d["widths"]),
                   dropout=float(d.get("dropout", 0.3)))


class PresenceNet(nn.Module):
    """(B,3,S,S) RGB in [0,1], any S → (B,) logits of "a mask is worn"; the input is resized to
    ``input_size`` by area averaging, so callers hand it the aligned crop as it is."""

    def __init__(self, config: PresenceConfig = PresenceConfig()) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        cin = 3
        for w in config.widths:
            layers += [nn.Conv2d(cin, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            cin = w
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(cin, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.config.input_size
        if x.shape[-1] != s:
            x = F.interpolate(x, size=(s, s), mode="area")  # (B,3,s,s)
        h = self.features(x).mean(dim=(2, 3))  # (B,C): global average pool
        return self.head(h).squeeze(1)  # (B,)

    def probability(self, x: torch.Tensor) -> torch.Tensor:
        """P(a mask is worn), (B,): the mean over the face and its mirror image, which steadies the score
        of small and turned faces at no real cost (the network is tiny)."""
        return 0.5 * (torch.sigmoid(self(x)) + torch.sigmoid(self(x.flip(3))))
