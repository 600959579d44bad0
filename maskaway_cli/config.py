"""Frozen configuration dataclasses built by ``cli/`` from options and handed to one core call."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from maskaway_cli.errors import UsageError

SIZES = (64, 128, 256)


@dataclass(frozen=True)
class SplitFractions:
    train: float = 0.90
    val: float = 0.05
    test: float = 0.05

    def __post_init__(self) -> None:
        parts = (self.train, self.val, self.test)
        if any(p < 0 for p in parts) or abs(sum(parts) - 1.0) > 1e-6:
            raise UsageError(f"--split fractions must be >= 0 and add up to 1, got {parts}")

    @classmethod
    def parse(cls, text: str) -> SplitFractions:
        """``"0.9,0.05,0.05"`` -> SplitFractions."""
        try:
            values = [float(v) for v in text.split(",")]
        except ValueError:
            raise UsageError(f"--split takes three numbers like 0.9,0.05,0.05, got '{text}'") from None
        if len(values) != 3:
            raise UsageError(f"--split takes three numbers like 0.9,0.05,0.05, got '{text}'")
        return cls(*values)

    def pick(self, u: float) -> str:
        """The split for a uniform number ``u`` in [0, 1)."""
        if u < self.train:
            return "train"
        return "val" if u < self.train + self.val else "test"


@dataclass(frozen=True)
class GenerateConfig:
    sources: tuple[Path, ...]
    output: Path
    size: int = 64
    types: tuple[str, ...] = ()  # empty: every available mask type
    colors: tuple[str, ...] = ()
    color_weight: float = 0.5
    textures: tuple[str, ...] = ()
    texture_weight: float = 0.5
    templates: Path | None = None
    per_face: int = 1
    seed: int = 0
    workers: int = 1
    limit: int | None = None  # at most this many source images
    split: SplitFractions = field(default_factory=SplitFractions)
    overwrite: bool = False
    detector: str = "ssd"
    confidence: float = 0.4
    min_face: int = 40  # smallest face (detector box side, photo pixels) worth a training sample

    def __post_init__(self) -> None:
        if self.size < 32 or self.size > 1024:
            raise UsageError(f"--size must be between 32 and 1024, got {self.size}")
        if self.per_face < 1:
            raise UsageError(f"--per-face must be at least 1, got {self.per_face}")
        if self.workers < 1:
            raise UsageError(f"--workers must be at least 1, got {self.workers}")
        if self.limit is not None and self.limit < 1:
            raise UsageError(f"--limit must be at least 1, got {self.limit}")
        for name in ("color_weight", "texture_weight"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise UsageError(f"--{name.replace('_', '-')} must be between 0 and 1")

    def settings(self) -> dict[str, Any]:
        """What decides the dataset's content (everything but workers/overwrite): stored and compared on resume."""
        d = asdict(self)
        for key in ("output", "workers", "overwrite"):
            d.pop(key)
        d["sources"] = [Path(p).as_posix() for p in self.sources]
        d["templates"] = None if self.templates is None else Path(self.templates).as_posix()
        d["types"], d["colors"], d["textures"] = list(self.types), list(self.colors), list(self.textures)
        return d
