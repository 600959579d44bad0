"""Is a mask being worn? A small CNN that scores an aligned face, independent of the segmenter.

The segmenter was trained on synthetic masks and finds something mask-like on most real faces (a beard, a
shadow, a scarf); its own confidence separates real masked from unmasked faces poorly. This classifier is
trained on real labelled faces as well as synthetic ones (``train/presence.py``), and ``unmask`` paints a
face only when it says a mask is there.

It sees the aligned crop at ``input_size`` (64 px by default: whether a mask is worn does not need 128 px,
and small faces in street photos have no more detail than that anyway).

A second opinion comes for free: the segmenter has already looked at the face, and its encoder's pooled
activations (``UNet.forward(pooled=True)``) know masks from thousands of synthetic ones. A linear probe on
them (:class:`SegmenterProbe`, fitted on the same real faces) is averaged with the CNN in logit space. The
two err on different faces: out of fold the pair passes 92% of real masked faces where the CNN alone passes
89%, at the same 2% of unmasked ones. The probe belongs to one segmenter; ``unmask`` uses it only with that
one (``info.calibration.segmenter_sha256``) and otherwise falls back to the CNN and its own threshold.
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
    probe_features: int = 0  # width of the segmenter summary the probe reads (0: no probe)
    probe_weight: float = 0.5  # the probe's share of the combined logit

    def to_dict(self) -> dict:
        d = asdict(self)
        d["widths"] = list(self.widths)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "PresenceConfig":
        return cls(input_size=int(d["input_size"]), widths=tuple(int(w) for w in d["widths"]),
                   dropout=float(d.get("dropout", 0.3)), probe_features=int(d.get("probe_features", 0)),
                   probe_weight=float(d.get("probe_weight", 0.5)))


class SegmenterProbe(nn.Module):
    """(B,F) segmenter summary → (B,) logits of "a mask is worn": standardised, then one linear layer (a
    logistic regression; about a thousand real faces do not support more)."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(features))
        self.register_buffer("scale", torch.ones(features))
        self.linear = nn.Linear(features, 1)

    def forward(self, summary: torch.Tensor) -> torch.Tensor:
        return self.linear((summary.float() - self.mean) / self.scale).squeeze(1)  # (B,)


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
        self.probe = SegmenterProbe(config.probe_features) if config.probe_features else None

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

    def combined(self, probability: torch.Tensor, summary: torch.Tensor) -> torch.Tensor:
        """P(a mask is worn), (B,), from this CNN's ``probability`` (B,) and the probe's reading of the
        segmenter's (B,F) ``summary``: their logits averaged with weights 1 - w and w."""
        if self.probe is None:
            raise ValueError("this presence model has no segmenter probe")
        return combine(probability, self.probe(summary), weight=self.config.probe_weight)


def combine(probability: torch.Tensor, probe_logit: torch.Tensor, *, weight: float) -> torch.Tensor:
    """sigmoid((1 - weight) logit(probability) + weight probe_logit), all (B,): the two opinions as one."""
    p = probability.float().clamp(1e-6, 1 - 1e-6)
    return torch.sigmoid((1 - weight) * torch.logit(p) + weight * probe_logit.float())
