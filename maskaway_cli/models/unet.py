"""U-Nets with skip connections: the mask segmenter and the inpainting generator.

Both share one body (:class:`UNet`); by default depth adapts to the image size so the bottleneck is
4x4 at 64, 128 and 256 px. ``context`` blocks at the bottleneck (dilated residual convolutions, a
self-attention layer) let every painted pixel see the whole face: the 128 px generator stops at 8x8
with them, which keeps the low levels wide while full resolution stays narrow and cheap.
Tensors are NCHW float32; images RGB.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class UNetConfig:
    """Architecture of a U-Net; stored in checkpoints and weights so a model can be rebuilt exactly."""

    in_channels: int
    out_channels: int
    base_channels: int = 32
    max_channels: int = 256
    depth: int = 4  # number of 2x downsamplings
    context: tuple[str, ...] = ()  # bottleneck blocks, in order: "dil<N>" (dilation N) or "attn"

    def __post_init__(self) -> None:
        object.__setattr__(self, "context", tuple(self.context))  # JSON metadata gives a list
        for kind in self.context:
            if kind != "attn" and not (kind.startswith("dil") and kind[3:].isdigit() and int(kind[3:]) > 0):
                raise ValueError(f"unknown context block {kind!r} (use dil<N> or attn)")

    @classmethod
    def for_size(cls, size: int, *, in_channels: int, out_channels: int, base_channels: int = 32,
                 max_channels: int = 256, bottleneck: int = 4, context: tuple[str, ...] = ()) -> UNetConfig:
        """The depth for ``size`` px images that ends at a ``bottleneck`` px square (64 px, 4 -> depth 4)."""
        if size < 16 or size & (size - 1):
            raise ValueError(f"image size must be a power of two >= 16, got {size}")
        if bottleneck < 1 or bottleneck & (bottleneck - 1) or bottleneck > size // 4:
            raise ValueError(f"bottleneck must be a power of two <= size/4, got {bottleneck}")
        depth = int(math.log2(size // bottleneck))
        return cls(in_channels, out_channels, base_channels, max_channels, depth, tuple(context))

    def widths(self) -> list[int]:
        """Channels at each level, from full resolution down to the bottleneck (depth + 1 entries)."""
        return [min(self.base_channels * 2**i, self.max_channels) for i in range(self.depth + 1)]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["context"] = list(self.context)
        return d


def _block(cin: int, cout: int) -> nn.Sequential:
    # Two 3x3 convs; BatchNorm is fine here (only the critic must avoid it under a gradient penalty).
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
    )


class DilatedBlock(nn.Module):
    """Residual 3x3 conv pair, the first dilated: context ``dilation`` cells away at no extra cost."""

    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation, bias=False),
            nn.BatchNorm2d(channels), nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.body(x))


class SelfAttention(nn.Module):
    """Residual multi-head self-attention over the bottleneck's cells (SAGAN-style, gated from 0):
    the chin can look at the eyes, wherever they are."""

    def __init__(self, channels: int, heads: int = 4) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(1, channels)
        self.attn = nn.MultiheadAttention(channels, heads, batch_first=True)
        self.gamma = nn.Parameter(torch.zeros(1))  # starts as the identity: training opens it

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        t = self.norm(x).flatten(2).transpose(1, 2)  # (B,H*W,C)
        y, _ = self.attn(t, t, t, need_weights=False)  # (B,H*W,C)
        return x + self.gamma * y.transpose(1, 2).reshape(b, c, h, w)


def _context(kind: str, channels: int) -> nn.Module:
    return SelfAttention(channels) if kind == "attn" else DilatedBlock(channels, int(kind[3:]))


class UNet(nn.Module):
    """Encoder-decoder with skip connections: (B,in,H,W) -> (B,out,H,W); H, W divisible by 2**depth."""

    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        self.config = config
        w = config.widths()
        self.down = nn.ModuleList([_block(config.in_channels, w[0])])
        self.down.extend(_block(w[i], w[i + 1]) for i in range(config.depth))
        self.up = nn.ModuleList(nn.ConvTranspose2d(w[i + 1], w[i], 2, stride=2) for i in range(config.depth))
        self.merge = nn.ModuleList(_block(2 * w[i], w[i]) for i in range(config.depth))
        self.context = nn.Sequential(*(_context(k, w[-1]) for k in config.context))
        self.head = nn.Conv2d(w[0], config.out_channels, 1)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor, *, pooled: bool = False):
        """``pooled``: also return the encoder's summary (:meth:`pooled_width` features per image)."""
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        x = self.context(skips.pop())  # bottleneck: (B,w[depth],H/2^depth,W/2^depth)
        summary = _summary(skips, x) if pooled else None
        for i in reversed(range(self.config.depth)):
            x = self.merge[i](torch.cat([self.up[i](x), skips[i]], dim=1))
        return (self.head(x), summary) if pooled else self.head(x)

    def pooled_width(self) -> int:
        w = self.config.widths()
        return sum(w[1:-1]) + 2 * w[-1]


def _summary(skips: list[torch.Tensor], bottleneck: torch.Tensor) -> torch.Tensor:
    """What the encoder saw, pooled: the mean of every level below full resolution and of the bottleneck
    over the face and over its lower half (where a mask sits). (B, sum(w[1:-1]) + 2 w[-1]) float32.
    The full-resolution level is left out: it holds edges and colour, not "is this a mask"."""
    half = bottleneck.shape[2] // 2
    parts = [s.float().mean(dim=(2, 3)) for s in skips[1:]]  # (B,w[i]) for levels 1..depth-1
    parts += [bottleneck.float().mean(dim=(2, 3)), bottleneck[:, :, half:].float().mean(dim=(2, 3))]
    return torch.cat(parts, dim=1)


class Segmenter(nn.Module):
    """Masked face -> mask logits.

    ``forward(image)``: image (B,3,H,W) RGB in [0,1] -> logits (B,1,H,W); sigmoid > 0.5 is "mask".
    """

    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        if config.in_channels != 3 or config.out_channels != 1:
            raise ValueError("a segmenter maps 3 channels to 1")
        self.config = config
        self.net = UNet(config)

    def forward(self, image: torch.Tensor, *, pooled: bool = False):
        """(B,1,H,W) logits; with ``pooled``, also the encoder's (B,F) summary (``UNet.forward``)."""
        return self.net(image * 2 - 1, pooled=pooled)


class Generator(nn.Module):
    """Inpainting generator working in [-1,1].

    ``forward(x, m)``: x (B,3,H,W) masked RGB in [-1,1], m (B,1,H,W) in {0,1} (1 = masked).
    Returns ``m*G + (1-m)*x``: unmasked pixels are the input's, bit-exact; only the masked region
    comes from the network (with ``return_raw=True``: ``(composite, G)``).
    ``raw(x, m)`` gives the network output alone, (B,3,H,W) in [-1,1].
    """

    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        if config.in_channels != 4 or config.out_channels != 3:
            raise ValueError("a generator maps 4 channels (RGB + mask) to 3")
        self.config = config
        self.net = UNet(config)

    def raw(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(torch.cat([x, m], dim=1)))  # (B,3,H,W) in [-1,1]

    def forward(self, x: torch.Tensor, m: torch.Tensor, *, return_raw: bool = False):
        g = self.raw(x, m).to(x.dtype)
        out = m * g + (1 - m) * x  # (B,3,H,W) in [-1,1]; exact x wherever m == 0
        return (out, g) if return_raw else out


def to_signed(image: torch.Tensor) -> torch.Tensor:
    """[0,1] -> [-1,1] (the generator's and critic's range)."""
    return image * 2 - 1


def to_unit(image: torch.Tensor) -> torch.Tensor:
    """[-1,1] -> [0,1], clamped."""
    return ((image + 1) / 2).clamp(0, 1)


@torch.no_grad()
def inpaint(generator: Generator, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Fill the masked region: image (B,3,H,W) RGB in [0,1], mask (B,1,H,W) in {0,1} -> (B,3,H,W) in [0,1]."""
    return to_unit(generator(to_signed(image), mask))
