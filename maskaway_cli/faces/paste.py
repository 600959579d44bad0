"""Paste an edited face crop back into its photo, touching only the region that was edited.

The crop's mask is dilated and feathered inwards, and the painted skin is shifted to the tone of the real
skin just around the mask, all in crop space at ``WORK``× the crop's resolution: the cost no longer grows
with the photo, and the edge is as smooth on a 4000 px photo as on a 400 px one. The edited crop
(bicubic) and the blend weight (bilinear) are then warped back with the inverse alignment and blended.
Every pixel where the weight is 0 keeps its input value bit for bit.

A 128 px face upsampled onto a big photo has no detail finer than a crop pixel, and reads as a smooth
patch in a grainy photo. So the photo's own detail is measured, band by band (octaves of 1, 2, 4 photo
px: sensor and JPEG noise, then pores and skin texture), in a ring of real skin just outside the
region, above the mask's middle (cheeks, not jaw and hair); the bands finer than a crop pixel get
band-limited grain inside the region, fitted together to the ring's strength less what the painted face
already has there, as compositors do. A ring made mostly of repeated pixel values (a pixelated or
posterized photo) gets none: its block edges are not grain.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from maskaway_cli.faces.align import invert, transform_points

# Fractions of the crop side (so big and small faces look alike).
DILATE = 0.05  # grow the predicted mask to cover its anti-aliased border and loops
# Width of the soft edge, inside the dilated mask. Narrower than the dilation, so the whole painted mask
# gets full weight: with the feather reaching into it (0.05 against a dilation of 0.03), the mask's own
# rim kept two thirds of its colour and showed as a thin outline around the painted face.
FEATHER = 0.04
RING = 0.04  # width of the skin bands either side of the mask edge compared for colour matching
MAX_SHIFT = 24.0  # largest colour correction, in 8-bit levels
WORK = 4  # mask work is done at this many times the crop's resolution
GRAIN_MIN_SCALE = 1.5  # photo px per crop px below which the crop carries the photo's detail itself
GRAIN_MAX = 6.0  # largest grain std added per band, in 8-bit levels (a ring of hair is not skin grain)
GRAIN_TILE = 256  # side of the cached noise tiles
GRAIN_SIGMA = 1.0  # finest band = luma minus its Gaussian blur of this many photo px
GRAIN_BANDS = 3  # octaves: (0,1], (1,2], (2,4] photo px; one is used only where it is finer than a crop px
# Share of neighbouring ring pixels with the very same value: up to the first, full grain; from the
# second, none. Real photos stay under 0.45 (maskdet photos: 95% under 0.38; the fixture portraits'
# rings: 0.11-0.42); a pixelated or posterized photo is mostly flat blocks (realmask's speckled
# crops: 0.85-0.92), whose edges the bands would read as strong texture and copy inside as speckle.
GRAIN_REPEAT_FULL, GRAIN_REPEAT_NONE = 0.5, 0.7


@dataclass(frozen=True)
class Pasted:
    rgb: np.ndarray  # (H,W,3) uint8: the photo with the face's edited region blended in
    region: np.ndarray  # (H,W) bool: pixels that may differ from the input (weight > 0)


def paste_back(photo: np.ndarray, crop: np.ndarray, mask: np.ndarray, matrix: np.ndarray) -> Pasted:
    """Blend ``crop`` (S,S,3 uint8, edited) into ``photo`` (H,W,3 uint8) where ``mask`` (S,S, >0 = edited).

    ``matrix`` is the (2,3) photo→crop alignment of ``faces.align``; outside the mask ``crop`` must hold
    the photo's own (aligned) pixels, as the generator's composite does: they are the colour reference.
    """
    import cv2

    size = crop.shape[0]
    weight_work = _weight(mask > 0, size * WORK)  # (S*W,S*W) float32 in [0,1]
    new_crop = _match_colour(crop.astype(np.float32), mask > 0, RING * size)  # (S,S,3) float32
    out = photo.copy()
    region_full = np.zeros(photo.shape[:2], bool)
    ys, xs = np.nonzero(weight_work)
    if len(xs) == 0:
        return Pasted(out, region_full)
    # only the part of the photo under the weighted region: the warps cost what the mask covers
    box = np.array([[xs.min(), ys.min()], [xs.max() + 1, ys.max() + 1]], float) / WORK + [[-1], [1]]  # crop px
    scale = _photo_px_per_crop_px(matrix)
    bands = _grain_bands(scale)
    margin = int(np.ceil(_ring_width(scale, bands))) + 2 if bands else 0  # room for the grain ring
    x0, y0, x1, y1 = _footprint(matrix, box, photo.shape[:2], margin=margin)
    if x1 <= x0 or y1 <= y0:
        return Pasted(out, region_full)
    roi = (x1 - x0, y1 - y0)
    to_roi = _shifted(invert(matrix), x0, y0)  # crop -> ROI
    # work pixel u sits at crop coordinate (u + 0.5) / WORK - 0.5
    work_to_crop = np.array([[1 / WORK, 0, 0.5 / WORK - 0.5], [0, 1 / WORK, 0.5 / WORK - 0.5]])
    work_to_roi = _compose(to_roi, work_to_crop)
    weight = cv2.warpAffine(weight_work, work_to_roi, roi, flags=cv2.INTER_LINEAR, borderValue=0)  # (h,w)
    region = weight > 0
    if not region.any():
        return Pasted(out, region_full)
    new_u8 = np.clip(new_crop + 0.5, 0, 255).astype(np.uint8)  # uint8 warps ~2x faster than float
    new = cv2.warpAffine(new_u8, to_roi, roi, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    patch = out[y0:y1, x0:x1]
    # Dense over the ROI (faster than gathering the region's pixels): where the weight is 0 the sum is
    # exactly the old integer value, so those pixels come back bit for bit.
    w = weight[..., None]  # (h,w,1)
    old = patch.astype(np.float32)  # (h,w,3)
    blended = old + w * (new.astype(np.float32) - old)  # (h,w,3)
    if bands:
        upper = cv2.warpAffine(_upper_half(mask > 0), to_roi, roi, flags=cv2.INTER_NEAREST, borderValue=0) > 0
        blended += w * _grain(patch, blended, weight, scale, bands, upper=upper,
                              seed=int(x0 * 7919 + y0))[..., None]
    np.clip(blended + 0.5, 0, 255, out=blended)
    patch[...] = blended.astype(np.uint8)
    region_full[y0:y1, x0:x1] = region
    return Pasted(out, region_full)


def _weight(mask: np.ndarray, side: int) -> np.ndarray:
    """Dilated mask with a smooth inward edge, at ``side``×``side``: 0 outside, rising to 1 inside."""
    import cv2

    up = cv2.resize(mask.astype(np.float32), (side, side), interpolation=cv2.INTER_LINEAR)
    # a blur of one crop pixel rounds off the crop grid's staircase before thresholding: on a big photo
    # each crop pixel is a 10 px step, which would show through the feather
    hard = cv2.GaussianBlur(up, (0, 0), sigmaX=WORK) >= 0.5
    size = mask.shape[0]
    # grow by DILATE (a distance transform: a big round kernel costs several times more)
    region = cv2.distanceTransform((~hard).astype(np.uint8), cv2.DIST_L2, 5) <= max(1, round(DILATE * size * WORK))
    # The crop's border counts as outside: a mask running off the crop (a respirator's cartridges, a
    # chin below the crop) then fades out there instead of ending in a straight line across the photo.
    framed = np.pad(region.astype(np.uint8), 1)
    dist = cv2.distanceTransform(framed, cv2.DIST_L2, 5)[1:-1, 1:-1]  # px to the nearest outside
    t = np.clip(dist / max(FEATHER * size * WORK, 1.0), 0.0, 1.0)
    return (t * t * (3 - 2 * t)).astype(np.float32)  # smoothstep: no visible kink at either end


def _match_colour(crop: np.ndarray, mask: np.ndarray, band: float) -> np.ndarray:
    """Shift the painted pixels per channel so the band just inside the mask matches the real skin just
    outside it, above the mask's middle (a model gets the overall tone slightly wrong, and a seam shows
    it at once).

    The shift is capped at ``MAX_SHIFT`` levels: a big difference means the bands are not both skin.
    """
    import cv2

    r = max(1, int(round(band)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    m = mask.astype(np.uint8)
    inner = mask & ~(cv2.erode(m, kernel) > 0)
    outer = (cv2.dilate(m, kernel) > 0) & ~mask
    # Only the upper half of the bands: above the mask's middle the ring is cheek and nose on an
    # aligned face, below it often the background, the neck or the chin's shadow (a wide mask's ring
    # on a dark door turned the painted skin grey).
    upper = _upper_half(mask) > 0
    if (inner & upper).sum() >= 4 and (outer & upper).sum() >= 4:
        inner, outer = inner & upper, outer & upper
    if inner.sum() < 4 or outer.sum() < 4:
        return crop
    shift = np.clip(crop[outer].mean(axis=0) - crop[inner].mean(axis=0), -MAX_SHIFT, MAX_SHIFT)  # (3,)
    out = crop.copy()
    out[mask] += shift
    return out


def _upper_half(mask: np.ndarray) -> np.ndarray:
    """(S,S) uint8: 1 on the crop rows above the mask's middle (cheeks and nose on an aligned face)."""
    middle = np.nonzero(mask)[0].mean() if mask.any() else mask.shape[0]
    return np.broadcast_to((np.arange(mask.shape[0]) < middle)[:, None], mask.shape).astype(np.uint8)


def _photo_px_per_crop_px(matrix: np.ndarray) -> float:
    return float(1.0 / np.sqrt(abs(np.linalg.det(matrix[:, :2]))))


def _grain_bands(scale: float) -> int:
    """How many detail octaves the photo has at ``scale`` photo px per crop px that the crop lacks."""
    if scale < GRAIN_MIN_SCALE:
        return 0
    return sum(1 for k in range(GRAIN_BANDS) if GRAIN_SIGMA * 2**k < scale)


def _ring_width(scale: float, bands: int) -> float:
    """Photo px of real skin measured around the region: two crop px, plus the coarsest band's reach."""
    return 2 * scale + 2 * GRAIN_SIGMA * 2 ** (bands - 1)


def _band_split(luma: np.ndarray, bands: int) -> list[np.ndarray]:
    """Detail octaves of ``luma``: [luma - G(1), G(1) - G(2), G(2) - G(4), ...] (G: Gaussian blur, px)."""
    import cv2

    out, prev = [], luma
    for k in range(bands):
        blur = cv2.GaussianBlur(luma, (0, 0), sigmaX=GRAIN_SIGMA * 2**k)
        out.append(prev - blur)
        prev = blur
    return out


def _robust_std(values: np.ndarray) -> float:
    """The std of the skin in a sample: from the lower quartile of |x| (for Gaussian detail, q25(|x|) =
    0.3186 std), so hair, stubble or a background edge in the ring only make up the upper part."""
    return float(np.percentile(np.abs(values), 25)) / 0.3186


def _grain(patch: np.ndarray, blended: np.ndarray, weight: np.ndarray, scale: float, bands: int, *,
           upper: np.ndarray, seed: int) -> np.ndarray:
    """Luma grain (h,w) float32 for the region (``weight`` > 0) of ``patch`` (h,w,3 uint8, the photo
    before blending): per octave, the photo's own strength in a ring just outside the region, less the
    strength ``blended`` (h,w,3 float32, the painted face) already has well inside it.

    The ring is taken above the mask's middle (``upper``, (h,w) bool) when it has enough of it: the
    cheeks beside the nose are skin like the skin under the mask, while below the middle the ring runs
    along the jaw, over hair, the neck's edge and the background. On the 24 fixture portraits (the true
    skin under the mask known), the painted region's grain over the true skin's, per band: median
    |log ratio| 0.27 this way, 0.41 before (the whole ring, filled coarse to fine); a smooth cheek beside
    hair had come out sandpapery."""
    import cv2

    region = weight > 0
    luma8 = cv2.cvtColor(patch, cv2.COLOR_RGB2GRAY)  # (h,w) uint8
    luma = luma8.astype(np.float32)
    painted = cv2.cvtColor(np.clip(blended, 0, 255), cv2.COLOR_RGB2GRAY)  # (h,w) float32
    outside = cv2.distanceTransform((~region).astype(np.uint8), cv2.DIST_L2, 3)  # (h,w) px to the region
    ring = (outside > 0) & (outside <= _ring_width(scale, bands))
    core = weight >= 0.99
    if (ring & upper).sum() >= 50:
        ring = ring & upper
    if ring.sum() < 50 or core.sum() < 50:
        return np.zeros(region.shape, np.float32)
    blocky = _repeated_share(luma8, ring)
    gain = float(np.clip((GRAIN_REPEAT_NONE - blocky) / (GRAIN_REPEAT_NONE - GRAIN_REPEAT_FULL), 0.0, 1.0))
    if gain == 0.0:
        return np.zeros(region.shape, np.float32)
    rng = np.random.default_rng(seed)  # a fixed offset per face: the same photo gives the same output
    oy, ox = rng.integers(0, GRAIN_TILE, size=2)
    h, w = region.shape
    reps = (-(-(h + oy) // GRAIN_TILE), -(-(w + ox) // GRAIN_TILE))
    need = [_robust_std(real[ring]) ** 2 - _robust_std(have[core]) ** 2
            for real, have in zip(_band_split(luma, bands), _band_split(painted, bands))]
    amps = [min(float(np.sqrt(a)), GRAIN_MAX) for a in _fit_strengths(need, _leakage())]
    grain = np.zeros((h, w), np.float32)
    for k, amp in enumerate(amps):
        if amp > 0:
            grain += amp * np.tile(_noise_tile(k), reps)[oy:oy + h, ox:ox + w]  # (h,w) octave k
    return gain * grain


def _fit_strengths(need: list[float], leak: list[list[float]]) -> list[float]:
    """Squared tile strengths x >= 0 whose sum over the bands best meets ``need`` (squared strength each
    band lacks; <= 0: none), each band's error relative to its own need.

    The octaves overlap: a coarse tile also shows up in the finer bands (much: ``leak[t][j]`` is what a
    unit tile of octave t measures in band j, squared). Filling bands one by one, coarse to fine, gave the
    middle band 1.6 times the ring's strength on a portrait (the coarse tile alone overfilled it); a
    non-negative least-squares fit over all bands at once does not. Three unknowns: every active set is
    tried."""
    import itertools

    n = len(need)
    target = np.maximum(np.asarray(need, np.float64), 0.0)
    scale = 1.0 / np.maximum(target, max(1e-3, 0.1 * float(target.max())))  # relative error per band
    a = np.asarray(leak, np.float64)[:n, :n].T * scale[:, None]  # (band, tile)
    b = target * scale
    best, best_err = np.zeros(n), float(np.sum(b**2))
    for size in range(1, n + 1):
        for active in itertools.combinations(range(n), size):
            x_act, *_ = np.linalg.lstsq(a[:, active], b, rcond=None)
            if np.any(x_act < 0):
                continue
            x = np.zeros(n)
            x[list(active)] = x_act
            err = float(np.sum((a @ x - b) ** 2))
            if err < best_err - 1e-12:
                best, best_err = x, err
    return best.tolist()


def _repeated_share(luma: np.ndarray, ring: np.ndarray) -> float:
    """Share of neighbouring pixel pairs within ``ring`` that hold the same value, in the direction
    where it is lower (a horizontal smear repeats only along one)."""
    rows = ring[:, 1:] & ring[:, :-1]
    cols = ring[1:] & ring[:-1]
    if not rows.any() or not cols.any():
        return 0.0
    across = float((luma[:, 1:] == luma[:, :-1])[rows].mean())
    down = float((luma[1:] == luma[:-1])[cols].mean())
    return min(across, down)


@functools.lru_cache(maxsize=1)
def _leakage() -> list[list[float]]:
    """How strong (squared) each unit noise tile measures in every band: the tiles' cross-talk."""
    pad = int(8 * GRAIN_SIGMA * 2 ** (GRAIN_BANDS - 1))
    out = []
    for t in range(GRAIN_BANDS):
        cut = _band_split(np.pad(_noise_tile(t), pad, mode="wrap"), GRAIN_BANDS)
        out.append([_robust_std(b[pad:-pad, pad:-pad]) ** 2 for b in cut])
    return out


@functools.lru_cache(maxsize=GRAIN_BANDS)
def _noise_tile(band: int) -> np.ndarray:
    """(T,T) float32 noise holding octave ``band`` (as :func:`_band_split` cuts it), scaled so that the
    same cut and measure give strength 1; blurred as a torus, so tiles repeat without a seam."""
    import cv2

    white = np.random.default_rng(band).standard_normal((GRAIN_TILE, GRAIN_TILE)).astype(np.float32)
    pad = int(8 * GRAIN_SIGMA * 2**band)
    octave = _band_split(np.pad(white, pad, mode="wrap"), band + 1)[band]  # (T+2p,T+2p)
    # unit strength as measured: the octave filter applied once more, as _grain measures the result
    measured = _band_split(octave, band + 1)[band][pad:-pad, pad:-pad]
    return octave[pad:-pad, pad:-pad] / _robust_std(measured)


def _footprint(matrix: np.ndarray, box: np.ndarray, shape, *, margin: int = 0) -> tuple[int, int, int, int]:
    """Bounding box (x0, y0, x1, y1) in the photo of a crop-space box ``[[x0,y0],[x1,y1]]`` (plus two
    pixels and ``margin``), clipped to the photo."""
    (bx0, by0), (bx1, by1) = box
    square = np.array([[bx0, by0], [bx1, by0], [bx0, by1], [bx1, by1]], float)
    corners = transform_points(square, invert(matrix))
    h, w = shape
    x0, y0 = np.floor(corners.min(axis=0)).astype(int) - 2 - margin
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int) + 2 + margin
    return max(0, x0), max(0, y0), min(w, x1), min(h, y1)


def _shifted(m: np.ndarray, x0: int, y0: int) -> np.ndarray:
    out = m.copy()
    out[:, 2] -= (x0, y0)
    return out


def _compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The (2,3) affine map ``outer ∘ inner``."""
    return np.hstack([outer[:, :2] @ inner[:, :2], (outer[:, :2] @ inner[:, 2] + outer[:, 2])[:, None]])
