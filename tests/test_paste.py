"""Paste-back of an edited crop into its photo (synthetic images)."""

from __future__ import annotations

import numpy as np

from maskaway_cli.faces.align import invert
from maskaway_cli.faces.paste import paste_back


def _setup(scale=0.25, angle=10.0):
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 255, (600, 700, 3), dtype=np.uint8)
    a = np.deg2rad(angle)
    rot = scale * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    matrix = np.hstack([rot, [[-40.0], [-30.0]]])  # photo -> 64 px crop
    mask = np.zeros((64, 64), np.uint8)
    mask[36:56, 16:48] = 255  # lower face
    return photo, matrix, mask


def test_pixels_outside_the_blend_region_are_bit_identical():
    photo, matrix, mask = _setup()
    crop = np.full((64, 64, 3), 200, np.uint8)
    out = paste_back(photo, crop, mask, matrix)
    assert out.region.any()
    assert np.array_equal(out.rgb[~out.region], photo[~out.region])
    changed = (out.rgb != photo).any(axis=2)
    assert changed[out.region].mean() > 0.8


def test_the_region_is_where_the_crop_mask_lands_and_scales_with_the_face():
    photo, matrix, mask = _setup()
    out = paste_back(photo, np.full((64, 64, 3), 200, np.uint8), mask, matrix)
    ys, xs = np.nonzero(mask)
    centre_crop = np.array([xs.mean(), ys.mean()])
    inv = invert(matrix)
    centre_photo = inv[:, :2] @ centre_crop + inv[:, 2]
    ry, rx = np.nonzero(out.region)
    assert np.allclose([rx.mean(), ry.mean()], centre_photo, atol=6)
    # mask area 20x32 crop px at 4 photo px per crop px, dilated a little
    area = out.region.sum()
    assert 20 * 32 * 16 < area < 20 * 32 * 16 * 1.6
    big = paste_back(photo, np.full((64, 64, 3), 200, np.uint8), mask, matrix * np.array([[0.5], [0.5]]))
    assert big.region.sum() > 3 * area  # twice the face size, four times the area


def test_feathered_edge_and_colour_matching():
    photo = np.full((400, 400, 3), 120, np.uint8)
    matrix = np.array([[0.25, 0, -20.0], [0, 0.25, -20.0]])
    mask = np.zeros((64, 64), np.uint8)
    mask[30:50, 20:44] = 255
    crop = np.full((64, 64, 3), 120, np.uint8)  # the photo's own pixels around the mask ...
    crop[mask > 0] = 150  # ... and paint 30 levels too bright inside it
    out = paste_back(photo, crop, mask, matrix)
    # the tone is pulled to the surrounding skin (capped shift of 24 levels)
    centre = out.rgb[int((40 + 20) / 0.25) - 1, int((32 + 20) / 0.25)]
    assert abs(int(centre[0]) - 126) <= 2
    # edge: values rise gradually from the border inwards, no step
    row = out.rgb[int(60 / 0.25) - 1, :, 0].astype(int)
    steps = np.abs(np.diff(row))
    assert steps.max() <= 3


def test_colour_is_matched_to_the_skin_above_the_mask_not_the_background_below():
    from maskaway_cli.faces.paste import _match_colour

    crop = np.full((64, 64, 3), 150.0, np.float32)  # skin
    crop[44:, :] = 40.0  # a dark background (a door, a coat) under and beside the lower half
    mask = np.zeros((64, 64), bool)
    mask[30:56, 16:48] = True
    crop[mask] = 150.0  # painted in the skin's own tone
    out = _match_colour(crop, mask, 3.0)
    assert np.allclose(out[mask], 150.0)  # no shift towards the background
    crop[mask] = 130.0  # painted 20 levels too dark: pulled up to the skin
    assert np.allclose(_match_colour(crop, mask, 3.0)[mask], 150.0)


def test_a_crop_falling_outside_the_photo_changes_nothing():
    photo, _, mask = _setup()
    matrix = np.array([[0.25, 0, 900.0], [0, 0.25, 900.0]])  # the face is far off-photo
    out = paste_back(photo, np.zeros((64, 64, 3), np.uint8), mask, matrix)
    assert not out.region.any() and np.array_equal(out.rgb, photo)


def _fine_std(rgb: np.ndarray, where: np.ndarray, sigma: float) -> float:
    import cv2

    luma = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    fine = luma - cv2.GaussianBlur(luma, (0, 0), sigmaX=sigma)
    return float(fine[where].std())


def test_painted_region_gets_the_photos_own_grain():
    import cv2

    rng = np.random.default_rng(1)
    photo = np.clip(128 + rng.normal(0, 5, (400, 400, 1)), 0, 255).astype(np.uint8).repeat(3, axis=2)
    matrix = np.array([[0.25, 0, -20.0], [0, 0.25, -20.0]])  # 4 photo px per crop px
    mask = np.zeros((64, 64), np.uint8)
    mask[30:50, 20:44] = 255
    crop = np.full((64, 64, 3), 128, np.uint8)  # a smooth painted face, as a 64 px model gives
    out = paste_back(photo, crop, mask, matrix)
    inner = cv2.erode(out.region.astype(np.uint8), np.ones((41, 41), np.uint8)) > 0  # full weight
    assert inner.sum() > 1000
    photo_grain, painted_grain = _fine_std(photo, ~out.region, 1.0), _fine_std(out.rgb, inner, 1.0)
    assert 0.6 * photo_grain < painted_grain < 1.4 * photo_grain, (photo_grain, painted_grain)
    assert abs(float(out.rgb[inner].mean()) - 128) < 1.5  # grain, not a shift of tone
    again = paste_back(photo, crop, mask, matrix)
    assert np.array_equal(again.rgb, out.rgb)  # deterministic
    assert np.array_equal(out.rgb[~out.region], photo[~out.region])
    # a face at the crop's own resolution carries its own detail: nothing is added
    same = paste_back(photo, crop, mask, np.array([[1.0, 0, -100.0], [0, 1.0, -100.0]]))
    inner_same = cv2.erode(same.region.astype(np.uint8), np.ones((11, 11), np.uint8)) > 0
    assert _fine_std(same.rgb, inner_same, 1.0) < 0.5


def test_the_masks_own_rim_leaves_no_outline():
    """A white mask on dark skin, segmented exactly: every pixel of it gets the painted face at full weight.
    With the soft edge reaching inside the mask, its rim kept about two thirds of its white."""
    photo = np.full((400, 400, 3), (70, 45, 35), np.uint8)  # dark skin
    photo[200:280, 160:256] = 250  # the mask: crop rows 30-49, columns 20-43 at 4 photo px per crop px
    matrix = np.array([[0.25, 0, -20.0], [0, 0.25, -20.0]])
    mask = np.zeros((64, 64), np.uint8)
    mask[30:50, 20:44] = 255
    crop = np.full((64, 64, 3), (70, 45, 35), np.uint8)  # painted skin inside, the photo's skin outside
    out = paste_back(photo, crop, mask, matrix)
    assert out.rgb[200:280, 160:256].max() < 90  # no white left, not even at the rim
    assert out.region[200:280, 160:256].all()


def test_grain_is_set_by_the_skin_above_the_masks_middle():
    """Below the mask's middle the ring runs over the jaw line, hair and background: rough texture there
    must not make the smooth skin above (the cheeks, like the skin under the mask) sandpapery."""
    import cv2

    rng = np.random.default_rng(4)
    photo = np.clip(128 + rng.normal(0, 2, (400, 400, 1)), 0, 255)
    photo[240:] = np.clip(128 + rng.normal(0, 25, (160, 400, 1)), 0, 255)  # below the middle: hair
    photo = photo.astype(np.uint8).repeat(3, axis=2)
    matrix = np.array([[0.25, 0, -20.0], [0, 0.25, -20.0]])  # mask rows 30-49 -> photo rows 200-279
    mask = np.zeros((64, 64), np.uint8)
    mask[30:50, 20:44] = 255
    crop = np.full((64, 64, 3), 128, np.uint8)
    out = paste_back(photo, crop, mask, matrix)
    inner = cv2.erode(out.region.astype(np.uint8), np.ones((41, 41), np.uint8)) > 0
    cheeks = np.zeros(photo.shape[:2], bool)
    cheeks[100:190, 60:360] = True
    skin, painted = _fine_std(photo, cheeks, 1.0), _fine_std(out.rgb, inner, 1.0)
    assert 0.6 * skin < painted < 1.6 * skin, (skin, painted)


def test_grain_strengths_fit_every_band_without_overfilling_one():
    """The coarse tile also measures in the finer band; filling coarse to fine, it alone overfilled it."""
    from maskaway_cli.faces.paste import _fit_strengths, _leakage

    leak = np.asarray(_leakage())
    need = [2.0**2, 1.9**2, 3.0**2]  # a portrait's ring, squared, per band (fine to coarse)
    x = np.asarray(_fit_strengths(need, leak.tolist()))
    assert (x >= 0).all()
    ratio = np.sqrt(leak.T @ x / np.asarray(need))  # strength each band measures / the ring's
    assert np.all((ratio > 0.7) & (ratio < 1.3)), ratio  # the old fill: 1.0, 1.41, 1.0
    assert _fit_strengths([0.0, -1.0, 0.0], leak.tolist()) == [0.0, 0.0, 0.0]  # nothing lacking: no grain


def test_a_pixelated_photo_gets_no_grain_from_its_block_edges():
    """Blocks of one value (a nearest-neighbour upscale, a posterized photo) read as strong texture to
    the bands; copied inside, that is speckle. The ring's repeated-value share switches the grain off."""
    import cv2

    from maskaway_cli.faces.paste import _repeated_share

    rng = np.random.default_rng(3)
    small = np.clip(128 + rng.normal(0, 12, (50, 50, 1)), 0, 255).astype(np.uint8).repeat(3, axis=2)
    photo = cv2.resize(small, (400, 400), interpolation=cv2.INTER_NEAREST)  # 8 px blocks
    matrix = np.array([[0.25, 0, -20.0], [0, 0.25, -20.0]])
    mask = np.zeros((64, 64), np.uint8)
    mask[30:50, 20:44] = 255
    crop = np.full((64, 64, 3), 128, np.uint8)
    out = paste_back(photo, crop, mask, matrix)
    inner = cv2.erode(out.region.astype(np.uint8), np.ones((41, 41), np.uint8)) > 0
    assert inner.sum() > 1000 and _fine_std(out.rgb, inner, 1.0) < 0.5
    ring = ~out.region
    assert _repeated_share(cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY), ring) > 0.8
    noisy = np.clip(128 + rng.normal(0, 5, (400, 400, 1)), 0, 255).astype(np.uint8).repeat(3, axis=2)
    assert _repeated_share(cv2.cvtColor(noisy, cv2.COLOR_RGB2GRAY), ring) < 0.2


def test_coarser_skin_texture_is_matched_band_by_band_on_big_faces():
    import cv2

    from maskaway_cli.faces.paste import _band_split, _robust_std

    rng = np.random.default_rng(2)
    # texture like pores: white noise blurred over 2 px, strong, on a flat grey
    texture = cv2.GaussianBlur(rng.normal(0, 1, (600, 600)).astype(np.float32), (0, 0), sigmaX=2.0)
    photo = np.clip(128 + 6 / texture.std() * texture, 0, 255).astype(np.uint8)[..., None].repeat(3, axis=2)
    matrix = np.array([[1 / 6, 0, -20.0], [0, 1 / 6, -20.0]])  # 6 photo px per crop px: 3 octaves
    mask = np.zeros((64, 64), np.uint8)
    mask[30:50, 20:44] = 255
    crop = np.full((64, 64, 3), 128, np.uint8)
    out = paste_back(photo, crop, mask, matrix)
    inner = cv2.erode(out.region.astype(np.uint8), np.ones((61, 61), np.uint8)) > 0
    outer = ~cv2.dilate(out.region.astype(np.uint8), np.ones((61, 61), np.uint8)).astype(bool)
    luma_in = cv2.cvtColor(out.rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    luma_photo = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY).astype(np.float32)
    for k, (got, want) in enumerate(zip(_band_split(luma_in, 3), _band_split(luma_photo, 3))):
        ratio = _robust_std(got[inner]) / _robust_std(want[outer])
        # octave 0 only gets what the coarser grain spills into it (the octaves overlap)
        assert (0.7 < ratio < 1.5) if k == 0 else (0.7 < ratio < 1.3), (k, ratio)
    assert abs(float(out.rgb[inner].mean()) - 128) < 1.5
    # the painted face's own detail counts: where it already has the ring's texture, nothing is added
    from maskaway_cli.faces.paste import _grain

    weight = np.zeros(photo.shape[:2], np.float32)
    weight[200:400, 200:400] = 1.0
    everywhere = np.ones(weight.shape, bool)
    assert not _grain(photo, photo.astype(np.float32), weight, 6.0, 3, upper=everywhere, seed=0).any()
    assert _grain(photo, np.full(photo.shape, 128, np.float32), weight, 6.0, 3, upper=everywhere, seed=0).std() > 3


def test_a_mask_running_off_the_crop_fades_out_at_the_crop_border():
    photo = np.full((500, 400, 3), 120, np.uint8)
    matrix = np.array([[0.25, 0, -20.0], [0, 0.25, -20.0]])  # crop row 63 lands at photo y ~ 333
    mask = np.zeros((64, 64), np.uint8)
    mask[40:64, 16:48] = 255  # down to the crop's bottom edge
    crop = np.full((64, 64, 3), 120, np.uint8)
    crop[mask > 0] = 200
    out = paste_back(photo, crop, mask, matrix)
    column = out.rgb[:, int((32 + 20) / 0.25), 0].astype(int)  # down through the mask's middle
    assert column[300] > 170  # painted (colour-matched) well inside ...
    assert np.abs(np.diff(column[300:])).max() <= 8  # ... then a gradual fade towards the crop's bottom edge
    assert (column[340:] == 120).all()  # nothing below the crop
