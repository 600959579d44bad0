"""Put a synthetic mask on an aligned face: pick a template, colour it, warp it onto the six anchors,
match the face's lighting and composite. Returns the masked face and the exact binary mask.

Speed matters (``generate`` does hundreds of faces a second), so each template is scaled down once per
size bucket with INTER_AREA (no aliasing from big pictures) and cached premultiplied; a call then only
colours a small picture, warps it into the mask's bounding box and blends there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from maskaway_cli.errors import ImageError, UsageError
from maskaway_cli.synth import appearance
from maskaway_cli.synth.anchors import head_turn, six_anchors, turn_variant
from maskaway_cli.synth.templates import (
    BUILTIN_TYPES,
    MaskTemplate,
    TemplateSet,
    builtin_templates,
    load_masktheface,
)

REFERENCE_LUMA = 165.0  # face brightness under which a template is shown as drawn
BUCKETS_PER_OCTAVE = 4  # template pre-scale steps: 2**(1/4), at most 19% larger than needed
# The binary mask covers every pixel the template visibly changed, anti-aliased rim and thin ear loops
# included: a pixel left outside it moves by at most 16/255 of the way to the mask's colour. A half-way
# threshold (128) left a faint outline that the inpainter was never asked to paint over.
COVER_ALPHA = 16
FOLD_LIGHT = 60.0  # levels of light a template's shading adds or removes when a mask is recoloured


@dataclass(frozen=True)
class SynthOptions:
    types: tuple[str, ...] = ()  # empty = all available types
    colors: tuple[str, ...] = ()  # empty = keep template colours
    color_weight: float = 0.5  # probability that one of ``colors`` is applied to a mask
    textures: tuple[str, ...] = ()  # empty = none
    texture_weight: float = 0.5  # probability that one of ``textures`` is applied
    templates_dir: Path | None = None  # a MaskTheFace-format set, pooled with the builtin one
    turn_threshold: float = 0.2  # |head_turn| above which a turned template variant is used
    worn_low: float = 0.0  # probability that the mask is worn under the nose or down on the chin
    gaiter: float = 0.0  # probability that the fabric runs down the neck (neck gaiters, bandanas)
    valve: float = 0.0  # probability that the mask has an exhalation valve


@dataclass(frozen=True)
class MaskChoice:
    """One mask a face is given on purpose (``--types all``, ``--code``), not drawn from the options."""

    mask_type: str
    color: tuple[int, int, int] | str | None = None  # RGB, 'random', or None
    texture: str | None = None  # procedural name or resolved image path
    texture_label: str | None = None  # the texture as the user wrote it

    @property
    def fixes_look(self) -> bool:
        return self.color is not None or self.texture is not None

    def look(self, rng: np.random.Generator) -> tuple[tuple[int, int, int] | None, str | None, str | None]:
        color = appearance.random_color(rng) if self.color == appearance.RANDOM else self.color
        return color, self.texture, self.texture_label


def _parse_look(look: str, entry: str) -> tuple:
    """``--code``'s part after the type: '' → nothing fixed; a colour; else a texture (name or file)."""
    if not look:
        return None, None, None
    try:
        return appearance.parse_color(look), None, None
    except UsageError:
        pass
    try:
        texture = appearance.parse_texture(look)
    except UsageError:
        raise UsageError(f"--code entry {entry!r}: {look!r} is neither a colour (name, #rrggbb, random) "
                         "nor a texture (stripes, checks, dots, floral or an image file)") from None
    if texture not in appearance.TEXTURES:
        appearance.load_texture_image(texture)  # a bad file fails before any work starts
    return None, texture, look


@dataclass(frozen=True)
class SynthResult:
    masked: np.ndarray  # (S,S,3) uint8 RGB: face wearing the mask
    binary: np.ndarray  # (S,S) uint8, 255 where the mask is, 0 elsewhere
    info: dict  # JSON-able: mask_type, template, variant, color, texture, turn
    alpha: np.ndarray | None = None  # (S,S) uint8 warped template alpha; binary == (alpha >= COVER_ALPHA) * 255


@dataclass(frozen=True)
class _Scaled:
    """A template pre-scaled for one size bucket."""

    premul: np.ndarray  # (h,w,4) uint8: RGB premultiplied by alpha, alpha
    alpha: np.ndarray  # (h,w,1) float32 in [0,1]
    shading: np.ndarray  # (h,w,1) float32: luma relative to the template's typical luma, for recolouring
    anchors: np.ndarray  # (6,2) float64 in scaled pixels


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def _scale_template(t: MaskTemplate, factor: float) -> _Scaled:
    import cv2

    h, w = t.rgba.shape[:2]
    rgba = t.rgba.astype(np.float32)  # (H,W,4) straight
    rgba[..., :3] *= rgba[..., 3:] / 255  # premultiply so edge pixels do not drag colour from transparency
    nw, nh = max(2, round(w * factor)), max(2, round(h * factor))
    if (nw, nh) != (w, h):
        rgba = cv2.resize(rgba, (nw, nh), interpolation=cv2.INTER_AREA)
    alpha = rgba[..., 3:] / 255  # (h,w,1)
    straight = rgba[..., :3] / np.maximum(alpha, 1e-3)
    luma = _luma(straight)
    solid = alpha[..., 0] > 0.5
    ref = float(np.median(luma[solid])) if solid.any() else 128.0
    shading = np.clip(luma / max(ref, 1.0), 0, 1.6)[..., None].astype(np.float32)
    # cv2.resize maps pixel centres: x' = (x + 0.5) * scale - 0.5.
    anchors = (t.anchors.astype(np.float64) + 0.5) * [nw / w, nh / h] - 0.5
    premul = np.round(np.clip(rgba, 0, 255)).astype(np.uint8)
    return _Scaled(premul, alpha.astype(np.float32), shading, anchors)


def _resolve_types(wanted: tuple[str, ...], available: list[str]) -> list[str]:
    """``--types`` names (any case) → the available types' own spelling; all of them when none given."""
    if not wanted:
        return available
    lookup = {t.lower(): t for t in available}
    out = []
    for name in wanted:
        if name.strip().lower() not in lookup:
            raise UsageError(f"unknown mask type {name!r}: available types are {', '.join(available)}")
        out.append(lookup[name.strip().lower()])
    return out


def _fit(src: np.ndarray, dst: np.ndarray, width: int, height: int, *, perspective: bool = True) -> np.ndarray:
    """3x3 float64 template -> face transform: least-squares homography on the 6 pairs (no RANSAC).

    Falls back to a least-squares affine map when the homography is degenerate or would fold the
    template behind the camera (w <= 0 at one of its corners), or when ``perspective`` is off.
    """
    import cv2

    H, _ = cv2.findHomography(src, dst, 0) if perspective else (None, None)
    if H is not None and np.isfinite(H).all():
        corners = np.array([[0, 0, 1], [width, 0, 1], [0, height, 1], [width, height, 1]], np.float64)
        if (corners @ H[2] > 1e-6).all():
            return H
    design = np.concatenate([src, np.ones((len(src), 1))], axis=1)  # (6,3)
    affine, *_ = np.linalg.lstsq(design, dst, rcond=None)  # (3,2)
    return np.vstack([affine.T, [0, 0, 1]])


class MaskSynthesizer:
    """Puts synthetic masks on aligned faces; build once, call ``apply`` per face."""

    def __init__(self, options: SynthOptions) -> None:
        for name in ("color_weight", "texture_weight"):
            value = getattr(options, name)
            if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
                raise UsageError(f"{name.replace('_', '-')} must be between 0 and 1, got {value!r}")
        theirs = load_masktheface(Path(options.templates_dir)) if options.templates_dir is not None else None
        available = sorted(set(BUILTIN_TYPES) | set(theirs.types() if theirs else ()), key=lambda s: (s.lower(), s))
        self.types = _resolve_types(options.types, available)
        wanted = tuple(t for t in BUILTIN_TYPES if t in self.types)  # draw only the types in use
        templates = builtin_templates(wanted if options.types else None)
        self.options = options
        self.templates: TemplateSet = templates.merge(theirs) if theirs else templates
        self.colors = [appearance.parse_color(c) for c in options.colors]
        self.textures = [appearance.parse_texture(t) for t in options.textures]
        for texture in self.textures:  # read image textures now: a bad file fails before any work starts
            if texture not in appearance.TEXTURES:
                appearance.load_texture_image(texture)
        self._scaled: dict[tuple[int, int], _Scaled] = {}

    def _scaled_for(self, t: MaskTemplate, dst: np.ndarray) -> _Scaled:
        """The template pre-scaled to about its size on the face, rounded up to a bucket; cached."""
        src = t.anchors.astype(np.float64)
        ratios = [np.hypot(*(dst[j] - dst[i])) / max(np.hypot(*(src[j] - src[i])), 1e-6)
                  for i, j in ((0, 2), (3, 5), (1, 4))]  # a-c, d-f, b-e spans
        bucket = min(0, math.ceil(BUCKETS_PER_OCTAVE * math.log2(max(max(ratios), 1e-4))))
        key = (id(t), bucket)
        if key not in self._scaled:
            self._scaled[key] = _scale_template(t, 2.0 ** (bucket / BUCKETS_PER_OCTAVE))
        return self._scaled[key]

    def _appearance(self, rng: np.random.Generator) -> tuple[tuple[int, int, int] | None, str | None, str | None]:
        """(colour or None, texture key or None, texture as the user wrote it or None), drawn from ``rng``."""
        color = None
        if self.colors and rng.random() < self.options.color_weight:
            pick = self.colors[int(rng.integers(len(self.colors)))]
            color = appearance.random_color(rng) if pick == appearance.RANDOM else pick
        texture = label = None
        if self.textures and rng.random() < self.options.texture_weight:
            i = int(rng.integers(len(self.textures)))
            texture, label = self.textures[i], self.options.textures[i].strip()
        return color, texture, label

    def _paint(self, s: _Scaled, color, texture) -> np.ndarray:
        """(h,w,4) uint8 premultiplied RGBA of the scaled template in its new colour/texture."""
        if color is None and texture is None:
            return s.premul
        h, w = s.alpha.shape[:2]
        if texture is not None:
            base = appearance.texture_rgb(texture, h, w, color)  # (h,w,3) straight
        else:
            base = np.array(color, np.float32)
        # Folds must show on a black mask too: scaling alone leaves dark cloth flat, so the shading also
        # adds or takes away a little light of its own.
        premul = np.clip(base * s.shading + (s.shading - 1) * FOLD_LIGHT, 0, 255) * s.alpha  # (h,w,3)
        return np.concatenate([np.round(premul).astype(np.uint8), s.premul[..., 3:]], axis=2)

    def parse_code(self, code: str) -> list[MaskChoice]:
        """MaskTheFace's ``--code``: comma-separated ``type``, ``type-colour`` or ``type-texture`` entries
        (e.g. ``cloth-#e54294, surgical_blue, cloth-checks, N95``); UsageError names a bad entry."""
        lookup = {t.lower(): t for t in self.types}
        choices = []
        for entry in (e.strip() for e in code.split(",")):
            if not entry:
                continue
            name, _, look = entry.partition("-")
            if name.strip().lower() not in lookup:
                raise UsageError(f"--code entry {entry!r}: unknown mask type {name.strip()!r} "
                                 f"(available: {', '.join(self.types)})")
            choices.append(MaskChoice(lookup[name.strip().lower()], *_parse_look(look.strip(), entry)))
        if not choices:
            raise UsageError("--code holds no entries: give e.g. 'cloth-#e54294, surgical_blue, N95'")
        return choices

    def apply(self, face: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator, *,
              choice: MaskChoice | None = None) -> SynthResult:
        """Mask one face. ``face`` (H,W,3) uint8 RGB (an aligned crop or a whole photo), ``landmarks``
        (68,2) in its pixels; uses only ``rng``. ``choice`` fixes the mask type (and colour or texture,
        when it names one) instead of drawing it from the options."""
        if not (isinstance(face, np.ndarray) and face.dtype == np.uint8 and face.ndim == 3 and face.shape[2] == 3):
            raise ImageError("face must be an (H,W,3) uint8 RGB array")
        dst = six_anchors(landmarks).astype(np.float64)  # (6,2)
        turn = head_turn(landmarks)
        variant = turn_variant(landmarks, threshold=self.options.turn_threshold)
        if choice is None:
            mask_type = self.types[int(rng.integers(len(self.types)))]
        else:
            mask_type = choice.mask_type
        neck = 0.0
        if self.options.gaiter and rng.random() < self.options.gaiter:  # no draw when off: old seeds hold
            neck = float(rng.uniform(0.4, 0.9))
            if choice is None and GAITER_TYPE in self.types:
                mask_type = GAITER_TYPE  # a tube of cloth, not a respirator stretched down the neck
        template = self.templates.choose(mask_type, variant, rng)
        if choice is not None and choice.fixes_look:
            color, texture, texture_label = choice.look(rng)
        else:
            color, texture, texture_label = self._appearance(rng)
        low = 0.0
        if self.options.worn_low and rng.random() < self.options.worn_low:  # no draw when off: old seeds hold
            low = float(rng.uniform(0.3, 1.0))
            dst = _worn_low(dst, low)
        if neck:
            dst = _down_the_neck(dst, neck)
        scaled = self._scaled_for(template, dst)
        rgba = self._paint(scaled, color, texture)
        valve = None
        if self.options.valve and rng.random() < self.options.valve:
            rgba, valve = _with_valve(rgba, rng)
        # A gaiter is stretched down the neck: a homography would read that as a tilt and lift the top
        # edge over the eyes, an affine map keeps it on the nose.
        H = _fit(scaled.anchors, dst, rgba.shape[1], rgba.shape[0], perspective=not neck)
        masked, alpha = _composite(face, rgba, H)
        binary = np.where(alpha >= COVER_ALPHA, 255, 0).astype(np.uint8)  # from the very alpha used to blend
        info = {
            "mask_type": mask_type,
            "template": template.name,
            "variant": template.variant,
            "color": appearance.to_hex(color) if color is not None else None,
            "texture": texture_label,
            "turn": round(turn, 4),
        }
        if low:
            info["worn_low"] = round(low, 3)
        if neck:
            info["gaiter"] = round(neck, 3)
        if valve:
            info["valve"] = valve
        return SynthResult(masked, binary, info, alpha)


def _worn_low(anchors: np.ndarray, amount: float) -> np.ndarray:
    """Anchors a..f of a mask pulled down its face: ``amount`` 0.3 leaves the nose out, 1.0 sits on the chin.

    The top edge (a, b, c) moves by ``amount`` times the bridge-to-lip-line height; the bottom edge (d, e,
    f) by a third of that, as the fabric bunches under the chin instead of sliding off it.
    """
    a, b, c, d, e, f = anchors
    drop = (d + f) / 2 - b  # (2,) from the bridge point down to the lip line
    out = anchors.copy()
    out[:3] += amount * drop
    out[3:] += amount * drop / 3
    return out


def _down_the_neck(anchors: np.ndarray, amount: float) -> np.ndarray:
    """Anchors of fabric that runs down the neck (a gaiter, a bandana): the mask stretched along the
    face's vertical about the nose bridge (b), so the chin point (e) moves down by ``amount`` times the
    bridge-to-chin height. One consistent stretch, so the fit is exact and the top stays on the nose."""
    b, e = anchors[1], anchors[4]
    down = (e - b) / max(float(np.hypot(*(e - b))), 1e-6)  # (2,) unit
    along = (anchors - b) @ down  # (6,) distance below the bridge
    return anchors + amount * along[:, None] * down[None, :]


GAITER_TYPE = "cloth"
VALVE_COLOURS = ((235, 235, 232), (150, 152, 156), (40, 40, 44), (60, 110, 180), (190, 60, 60))


def _with_valve(rgba: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """A round exhalation valve on one side of the (scaled, premultiplied) template: a plastic disc
    with a rim and a few slots, lit from above, inside the template's own alpha (so the binary mask,
    made from that alpha, covers it)."""
    h, w = rgba.shape[:2]
    side = 1 if rng.random() < 0.5 else -1
    cx, cy = w * (0.5 + side * rng.uniform(0.14, 0.22)), h * rng.uniform(0.5, 0.64)
    r = w * rng.uniform(0.08, 0.12)
    colour = np.array(VALVE_COLOURS[int(rng.integers(len(VALVE_COLOURS)))], np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    d = np.hypot(xx - cx, yy - cy) / max(r, 1.0)  # (h,w) 1 at the rim
    disc = np.clip((1.0 - d) * r, 0, 1)  # (h,w) anti-aliased over a pixel
    light = 1.15 - 0.3 * np.clip((yy - (cy - r)) / (2 * r), 0, 1)  # brighter at the top
    rim = np.exp(-(((d - 0.85) / 0.07) ** 2))  # a darker ring just inside the edge
    slots = (np.abs(np.sin((xx - cx) / max(r, 1.0) * 9.0)) < 0.25) & (d < 0.6)
    shade = light * (1 - 0.35 * rim) * np.where(slots, 0.7, 1.0)
    alpha = rgba[..., 3].astype(np.float32) / 255
    cover = disc * (alpha > 0.5)  # (h,w): only where the mask itself is
    valve_rgb = np.clip(colour * shade[..., None], 0, 255) * alpha[..., None]  # premultiplied
    out = rgba.astype(np.float32)
    out[..., :3] = out[..., :3] * (1 - cover[..., None]) + valve_rgb * cover[..., None]
    info = {"x": round(cx / w, 3), "y": round(cy / h, 3), "r": round(r / w, 3), "colour": appearance.to_hex(
        tuple(int(c) for c in colour))}
    return np.round(out).astype(np.uint8), info


def _composite(face: np.ndarray, rgba: np.ndarray, H: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Warp premultiplied ``rgba`` (h,w,4) by ``H`` into ``face`` (S,S,3): (masked (S,S,3), alpha (S,S)) uint8."""
    import cv2

    rows, cols = face.shape[:2]
    h, w = rgba.shape[:2]
    masked, full_alpha = face.copy(), np.zeros((rows, cols), np.uint8)
    corners = np.array([[-1, -1, 1], [w, -1, 1], [-1, h, 1], [w, h, 1]], np.float64) @ H.T  # (4,3)
    xy = corners[:, :2] / corners[:, 2:]
    x0, y0 = max(0, math.floor(xy[:, 0].min())), max(0, math.floor(xy[:, 1].min()))
    x1, y1 = min(cols, math.ceil(xy[:, 0].max()) + 1), min(rows, math.ceil(xy[:, 1].max()) + 1)
    if x1 <= x0 or y1 <= y0:  # the mask falls outside the crop
        return masked, full_alpha
    shift = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64)
    warped = cv2.warpPerspective(rgba, shift @ H, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=0)  # (rh,rw,4) premultiplied
    alpha8 = warped[..., 3]
    full_alpha[y0:y1, x0:x1] = alpha8
    covered = alpha8 > 0
    if not covered.any():
        return masked, full_alpha
    roi = face[y0:y1, x0:x1].astype(np.float32)  # (rh,rw,3)
    gain = _lighting(roi, covered)[..., None]  # (rh,rw,1)
    a = alpha8[..., None].astype(np.float32) / 255
    blend = roi * (1 - a) + warped[..., :3].astype(np.float32) * gain
    out = np.clip(np.round(blend), 0, 255).astype(np.uint8)
    masked[y0:y1, x0:x1] = np.where(covered[..., None], out, face[y0:y1, x0:x1])
    return masked, full_alpha


def _lighting(roi: np.ndarray, covered: np.ndarray) -> np.ndarray:
    """(rh,rw) float32 gain that dims a mask to the face's brightness and follows its light falloff.

    The global part follows the mean luma of the face under the mask (partially, so a dark-skinned face
    in good light keeps a bright mask); the local part is the face's own low-frequency luma pattern.
    """
    import cv2

    luma = _luma(roi)  # (rh,rw)
    mean = float(luma[covered].mean())
    overall = float(np.clip((max(mean, 1.0) / REFERENCE_LUMA) ** 0.75, 0.3, 1.05))
    rh, rw = luma.shape
    coarse = cv2.resize(luma, (min(4, rw), min(4, rh)), interpolation=cv2.INTER_AREA)
    smooth = cv2.resize(coarse, (rw, rh), interpolation=cv2.INTER_LINEAR)
    local = np.clip(np.sqrt(np.maximum(smooth, 1.0) / max(mean, 1.0)), 0.75, 1.25)
    return (overall * local).astype(np.float32)
