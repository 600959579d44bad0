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
    detector: str = "retina"
    confidence: float | None = None  # None: the detector's own default
    min_face: int = 40  # smallest face (detector box side, photo pixels) worth a training sample
    bare: float = 0.0  # share of samples left without a mask (empty binary): the segmenter must say "none"
    degrade: float = 0.0  # share of samples given photo degradations (synth/degrade.py), pair alike
    worn_low: float = 0.0  # share of masks worn under the nose or on the chin
    gaiter: float = 0.0  # share of masks whose fabric runs down the neck (gaiters, bandanas)
    valve: float = 0.0  # share of masks with an exhalation valve
    lookalike: float = 0.0  # share of the --bare faces given a scarf or a microphone (synth/lookalike.py)

    def __post_init__(self) -> None:
        for name in ("bare", "degrade", "worn_low", "gaiter", "valve", "lookalike"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise UsageError(f"--{name.replace('_', '-')} must be between 0 and 1")
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


ALL_TYPES, RANDOM_TYPE = "all", "random"


@dataclass(frozen=True)
class MaskConfig:
    """``maskaway mask``: whole photos wearing synthetic masks, plus their binary masks."""

    sources: tuple[Path, ...]
    output: Path
    masks: Path | None = None  # binary masks; None: OUTPUT-masks beside OUTPUT
    types: tuple[str, ...] = ()  # empty or ('random',): one type drawn per face; ('all',): every type
    colors: tuple[str, ...] = ()
    color_weight: float = 0.5
    textures: tuple[str, ...] = ()
    texture_weight: float = 0.5
    code: str | None = None  # MaskTheFace's --code: 'type[-colour|-texture], ...', one entry per face
    templates: Path | None = None
    keep_original: bool = False  # also write NAME_original.EXT (MaskTheFace's --write_original_image)
    seed: int = 0
    workers: int = 1
    overwrite: bool = False
    verbose: bool = False
    detector: str = "retina"
    confidence: float | None = None  # None: the detector's own default
    min_face: int = 20

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise UsageError(f"--workers must be at least 1, got {self.workers}")
        if self.min_face < 1:
            raise UsageError(f"--min-face must be at least 1 pixel, got {self.min_face}")
        lowered = [t.lower() for t in self.types]
        if (ALL_TYPES in lowered or RANDOM_TYPE in lowered) and len(lowered) > 1:
            raise UsageError("--types all and --types random stand alone: give them without other types")
        if self.code is not None and self.types:
            raise UsageError("--code and --types exclude each other: --code names the types itself")
        for name in ("color_weight", "texture_weight"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise UsageError(f"--{name.replace('_', '-')} must be between 0 and 1")

    @property
    def every_type(self) -> bool:
        return [t.lower() for t in self.types] == [ALL_TYPES]

    @property
    def drawn_types(self) -> tuple[str, ...]:
        """The types a face's mask is drawn from (empty: all of them)."""
        return () if self.every_type or [t.lower() for t in self.types] == [RANDOM_TYPE] else self.types

    @property
    def mask_dir(self) -> Path:
        return self.masks if self.masks is not None else self.output.with_name(self.output.name + "-masks")

    def settings(self) -> dict[str, Any]:
        """What decides the pictures (not which sources, workers, overwrite, verbose): compared on resume."""
        d = asdict(self)
        for key in ("sources", "output", "masks", "workers", "overwrite", "verbose"):
            d.pop(key)
        d["templates"] = None if self.templates is None else Path(self.templates).as_posix()
        d["types"], d["colors"], d["textures"] = list(self.types), list(self.colors), list(self.textures)
        return d
