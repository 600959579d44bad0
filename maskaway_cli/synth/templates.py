"""Mask templates: the built-in drawn set and sets in MaskTheFace's ``masks.cfg`` format.

A template is an RGBA picture of a mask plus the six points a..f (MaskTheFace order: upper-left, nose
bridge, upper-right, lower-left, chin, lower-right) that are pinned onto the face's anchors.
"""

from __future__ import annotations

import configparser
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from maskaway_cli.errors import ImageError, TemplateError

VARIANTS = ("", "left", "right")
POINT_KEYS = ("mask_a", "mask_b", "mask_c", "mask_d", "mask_e", "mask_f")
MAX_TEMPLATE_PIXELS = 40_000_000  # a template bigger than this is not a mask picture


@dataclass(frozen=True, eq=False)
class MaskTemplate:
    """One mask picture and where its six anchors are."""

    name: str  # e.g. 'surgical_left' or 'mtf/surgical_left'
    mask_type: str  # 'surgical', 'surgical_blue', 'surgical_green', 'N95', 'KN95', 'cloth', 'gas', ...
    variant: str  # '', 'left', 'right'
    rgba: np.ndarray  # (H,W,4) uint8 RGB, straight alpha
    anchors: np.ndarray  # (6,2) float32, a..f in template pixel coordinates
    source: str  # 'builtin' or the masks.cfg path


@dataclass(frozen=True)
class TemplateSet:
    """mask_type -> {variant -> [MaskTemplate, ...]}."""

    by_type: dict[str, dict[str, list[MaskTemplate]]] = field(default_factory=dict)

    @classmethod
    def of(cls, templates: list[MaskTemplate]) -> TemplateSet:
        by_type: dict[str, dict[str, list[MaskTemplate]]] = {}
        for t in templates:
            by_type.setdefault(t.mask_type, {}).setdefault(t.variant, []).append(t)
        return cls(by_type)

    def all(self) -> list[MaskTemplate]:
        return [t for variants in self.by_type.values() for ts in variants.values() for t in ts]

    def types(self) -> list[str]:
        """Mask types in a stable order (sorted, case-insensitively)."""
        return sorted(self.by_type, key=lambda s: (s.lower(), s))

    def merge(self, other: TemplateSet) -> TemplateSet:
        """A new set pooling both: same type and variant -> both sets' templates to choose from."""
        return TemplateSet.of(self.all() + other.all())

    def choose(self, mask_type: str, variant: str, rng: np.random.Generator) -> MaskTemplate:
        """A template of ``mask_type`` for ``variant``, falling back to the frontal '' variant, then any."""
        variants = self.by_type.get(mask_type)
        if not variants:
            raise TemplateError(f"no templates of mask type {mask_type!r}")
        pool = variants.get(variant) or variants.get("")
        if not pool:
            pool = variants[sorted(variants)[0]]
        return pool[int(rng.integers(len(pool)))]


def _builtin_drawings() -> dict[str, Callable[[], tuple[np.ndarray, np.ndarray]]]:
    from maskaway_cli.synth import draw

    return {
        "surgical": draw.draw_surgical,
        "surgical_blue": functools.partial(draw.draw_surgical, (118, 170, 214)),
        "surgical_green": functools.partial(draw.draw_surgical, (122, 190, 168)),
        "N95": draw.draw_n95,
        "KN95": draw.draw_kn95,
        "cloth": draw.draw_cloth,
        "gas": draw.draw_gas,
    }


BUILTIN_TYPES = ("surgical", "surgical_blue", "surgical_green", "N95", "KN95", "cloth", "gas")


@functools.lru_cache(maxsize=8)
def builtin_templates(types: tuple[str, ...] | None = None) -> TemplateSet:
    """The project's own templates, drawn procedurally (see draw.py), each in '', 'left' and 'right'.

    ``types`` (exact names from BUILTIN_TYPES) draws only those: drawing all of them takes ~0.4 s, paid
    by every worker process at start-up.
    """
    from maskaway_cli.synth import draw

    templates = []
    for mask_type, make in _builtin_drawings().items():
        if types is not None and mask_type not in types:
            continue
        rgba, anchors = make()
        for variant, angle in (("", 0.0), ("left", -draw.TURN_ANGLE), ("right", draw.TURN_ANGLE)):
            turned, pts = draw.turn(rgba, anchors, angle)
            name = f"{mask_type}_{variant}" if variant else mask_type
            templates.append(MaskTemplate(name, mask_type, variant, turned, pts, "builtin"))
    return TemplateSet.of(templates)


def split_section(section: str) -> tuple[str, str]:
    """MaskTheFace section name -> (mask type, variant): 'surgical_blue_left' -> ('surgical_blue', 'left')."""
    for variant in ("left", "right"):
        if section.endswith("_" + variant) and len(section) > len(variant) + 1:
            return section[: -len(variant) - 1], variant
    return section, ""


def _resolve(folder: Path, value: str, section: str) -> Path:
    """A template path as masks.cfg writes it: relative to the cfg's folder, then dropping leading parts."""
    rel = Path(value.strip())
    if rel.is_absolute():
        candidates = [rel]
    else:
        candidates = [folder / Path(*rel.parts[i:]) for i in range(len(rel.parts))]
    for path in candidates:
        if path.is_file():
            return path
    raise TemplateError(f"masks.cfg [{section}]: template file {value.strip()!r} not found under {folder}")


def _point(value: str, section: str, key: str) -> tuple[float, float]:
    parts = [p.strip() for p in value.split(",")]
    try:
        x, y = (float(p) for p in parts)
    except ValueError:
        raise TemplateError(f"masks.cfg [{section}] {key}: expected 'x, y', got {value.strip()!r}") from None
    if not (np.isfinite(x) and np.isfinite(y)):
        raise TemplateError(f"masks.cfg [{section}] {key}: coordinates must be finite")
    return x, y


def read_rgba(path: Path) -> np.ndarray:
    """(H,W,4) uint8 straight-alpha RGBA from an image file; TemplateError if unreadable or huge."""
    from maskaway_cli.imageio import load_image

    try:
        image = load_image(path, max_pixels=MAX_TEMPLATE_PIXELS, metadata=False)
    except ImageError as exc:
        raise TemplateError(f"cannot read template image {exc}") from None
    alpha = image.alpha if image.alpha is not None else np.full(image.rgb.shape[:2], 255, np.uint8)
    return np.dstack([image.rgb, alpha])  # (H,W,4)


def check_anchors(anchors: np.ndarray, where: str) -> None:
    """TemplateError unless the quadrilateral a-c-f-d encloses some area (a usable warp)."""
    a, _, c, d, _, f = anchors.astype(np.float64)
    quad = np.array([a, c, f, d])
    area = 0.5 * abs(np.dot(quad[:, 0], np.roll(quad[:, 1], -1)) - np.dot(quad[:, 1], np.roll(quad[:, 0], -1)))
    if area < 1.0:
        raise TemplateError(f"{where}: anchors a, c, f, d enclose no area")


def _section_template(cfg: configparser.ConfigParser, section: str, folder: Path, source: str) -> MaskTemplate:
    items = cfg[section]
    missing = [k for k in ("template", *POINT_KEYS) if k not in items]
    if missing:
        raise TemplateError(f"masks.cfg [{section}]: missing {', '.join(missing)}")
    points = np.array([_point(items[k], section, k) for k in POINT_KEYS], np.float32)  # (6,2) in key order
    check_anchors(points, f"masks.cfg [{section}]")
    rgba = read_rgba(_resolve(folder, items["template"], section))
    mask_type, variant = split_section(section)
    return MaskTemplate(f"mtf/{section}", mask_type, variant, rgba, points, source)


def load_masktheface(folder: Path) -> TemplateSet:
    """Read a MaskTheFace template set: ``folder/masks.cfg`` and the PNGs it names.

    Sections without keys and ``empty*``/``inpaint*`` sections are not masks and are skipped; ``;``/``#``
    lines are comments; a section's points may come in any order and may lie outside the picture.
    Raises TemplateError on a missing or malformed cfg, a missing key, or an unreadable picture.
    """
    folder = Path(folder)
    cfg_path = folder / "masks.cfg"
    if not cfg_path.is_file():
        raise TemplateError(f"no masks.cfg in {folder}")
    cfg = configparser.ConfigParser(comment_prefixes=(";", "#"), inline_comment_prefixes=None,
                                    delimiters=(":", "="), interpolation=None)
    cfg.optionxform = str.lower  # type: ignore[assignment,method-assign]
    try:
        cfg.read_string(cfg_path.read_text(encoding="utf-8"), source=str(cfg_path))
    except (configparser.Error, UnicodeDecodeError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TemplateError(f"malformed {cfg_path}: {first}") from None
    templates = []
    for section in cfg.sections():
        if not cfg[section] or section.lower().startswith(("empty", "inpaint")):
            continue
        templates.append(_section_template(cfg, section, folder, str(cfg_path)))
    if not templates:
        raise TemplateError(f"{cfg_path} defines no mask templates")
    return TemplateSet.of(templates)
