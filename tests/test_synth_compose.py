"""Putting masks on faces: exact binary masks, untouched pixels, determinism, colours, textures, sizes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from maskaway_cli.errors import FaceError, ImageError, TemplateError, UsageError
from maskaway_cli.synth import appearance
from maskaway_cli.synth.anchors import mean_face_landmarks
from maskaway_cli.synth.compose import COVER_ALPHA, MaskSynthesizer, SynthOptions, _composite

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
MTF = SHARED / "masktheface"


def _face(size: int, value=(200, 30, 200)) -> np.ndarray:
    face = np.empty((size, size, 3), np.uint8)
    face[:] = value
    return face


def _dilate(binary: np.ndarray, px: int) -> np.ndarray:
    import cv2

    return cv2.dilate(binary, np.ones((2 * px + 1, 2 * px + 1), np.uint8)) > 0


def test_composite_binary_is_exactly_the_thresholded_warped_alpha():
    import cv2

    rng = np.random.default_rng(3)
    rgba = np.zeros((50, 70, 4), np.uint8)
    rgba[..., 3] = rng.integers(0, 256, (50, 70))
    rgba[..., :3] = (rgba[..., 3:].astype(np.uint16) * rng.integers(0, 256, (50, 70, 3)) // 255).astype(np.uint8)
    H = np.array([[0.7, 0.1, 5.0], [-0.05, 0.8, 9.0], [0.0005, 0.0002, 1.0]])
    face = _face(64)
    masked, warped_alpha = _composite(face, rgba, H)
    alpha = cv2.warpPerspective(rgba[..., 3], H, (64, 64), flags=cv2.INTER_LINEAR, borderValue=0)
    np.testing.assert_array_equal(warped_alpha, alpha)
    np.testing.assert_array_equal(masked[alpha == 0], face[alpha == 0])  # zero alpha: the face itself
    solid = alpha >= 200
    assert solid.sum() > 5 and (masked[solid] != face[solid]).any()


@pytest.mark.parametrize("size", [64, 128, 256])
def test_mask_lands_on_the_lower_face_at_every_size(size):
    syn = MaskSynthesizer(SynthOptions())
    lm = mean_face_landmarks(size)
    face = _face(size)
    fractions = []
    for seed in range(len(syn.types) * 2):
        res = syn.apply(face, lm, np.random.default_rng(seed))
        assert res.masked.shape == (size, size, 3) and res.masked.dtype == np.uint8
        assert res.binary.shape == (size, size) and res.binary.dtype == np.uint8
        assert set(np.unique(res.binary)) <= {0, 255}
        for i in (33, 51, 57, 62):  # nose bottom and mouth covered
            x, y = np.round(lm[i]).astype(int)
            assert res.binary[y, x] == 255, (res.info, i)
        for i in (37, 44):  # eyes free
            x, y = np.round(lm[i]).astype(int)
            assert res.binary[y, x] == 0, (res.info, i)
        np.testing.assert_array_equal(res.binary, np.where(res.alpha >= COVER_ALPHA, 255, 0))
        changed = (res.masked != face).any(axis=2)
        assert not (changed & (res.alpha == 0)).any()  # untouched wherever the warped alpha is 0
        assert changed[res.binary == 255].mean() > 0.95  # inside: really painted over
        shift = np.abs(res.masked.astype(int) - face.astype(int)).max(axis=2)
        assert shift[res.binary == 0].max() <= COVER_ALPHA  # no visible rim left outside the binary
        fractions.append((res.binary == 255).mean())
        json.dumps(res.info)
    assert 0.15 < np.mean(fractions) < 0.45


def test_coverage_is_the_same_whatever_the_size():
    syn = MaskSynthesizer(SynthOptions(types=("surgical",)))
    cover = [(syn.apply(_face(s), mean_face_landmarks(s), np.random.default_rng(0)).binary > 0).mean()
             for s in (64, 128, 256)]
    assert max(cover) - min(cover) < 0.02


def test_deterministic_for_the_same_rng_state():
    lm = mean_face_landmarks(64, yaw=-0.3)
    face = np.random.default_rng(9).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    opts = SynthOptions(colors=("random", "red"), textures=("dots", "floral"))
    a, b = MaskSynthesizer(opts), MaskSynthesizer(opts)
    rng_a, rng_b = np.random.default_rng(42), np.random.default_rng(42)
    infos = set()
    for _ in range(12):
        ra, rb = a.apply(face, lm, rng_a), b.apply(face, lm, rng_b)
        assert ra.masked.tobytes() == rb.masked.tobytes() and ra.binary.tobytes() == rb.binary.tobytes()
        assert ra.info == rb.info
        infos.add(json.dumps(ra.info, sort_keys=True))
    assert len(infos) > 6  # the rng really drives the choices


def test_turned_face_gets_turned_template():
    syn = MaskSynthesizer(SynthOptions(types=("KN95",)))
    for yaw, variant in ((-0.5, "left"), (0.0, ""), (0.5, "right")):
        info = syn.apply(_face(64), mean_face_landmarks(64, yaw=yaw), np.random.default_rng(0)).info
        assert info["variant"] == variant and info["template"] == ("KN95_" + variant).rstrip("_")
        assert (info["turn"] < -0.2) == (variant == "left")


def test_types_are_chosen_from_the_options():
    syn = MaskSynthesizer(SynthOptions(types=("n95", "gas")))
    assert syn.types == ["N95", "gas"]
    seen = {syn.apply(_face(64), mean_face_landmarks(64), np.random.default_rng(s)).info["mask_type"]
            for s in range(30)}
    assert seen == {"N95", "gas"}


def test_colour_applied_with_its_weight():
    lm, face = mean_face_landmarks(64), _face(64, (160, 160, 160))
    red = MaskSynthesizer(SynthOptions(types=("surgical",), colors=("#ff0000",), color_weight=1.0))
    res = red.apply(face, lm, np.random.default_rng(0))
    assert res.info["color"] == "#ff0000"
    inside = res.masked[res.binary == 255].astype(float).mean(axis=0)
    assert inside[0] > 2 * inside[1] and inside[0] > 2 * inside[2]
    never = MaskSynthesizer(SynthOptions(colors=("red",), color_weight=0.0))
    assert all(never.apply(face, lm, np.random.default_rng(s)).info["color"] is None for s in range(10))
    half = MaskSynthesizer(SynthOptions(colors=("random",), color_weight=0.5))
    colours = [half.apply(face, lm, np.random.default_rng(s)).info["color"] for s in range(60)]
    assert 15 < sum(c is not None for c in colours) < 45
    assert len({c for c in colours if c}) > 10  # 'random' draws a new colour each time


def test_textures_and_image_texture(tmp_path):
    lm, face = mean_face_landmarks(128), _face(128, (160, 160, 160))
    plain = MaskSynthesizer(SynthOptions(types=("surgical",)))
    striped = MaskSynthesizer(SynthOptions(types=("surgical",), textures=("stripes",), texture_weight=1.0))
    a = plain.apply(face, lm, np.random.default_rng(0))
    b = striped.apply(face, lm, np.random.default_rng(0))
    assert a.info["texture"] is None and b.info["texture"] == "stripes"
    np.testing.assert_array_equal(a.binary, b.binary)  # a texture never changes where the mask is
    luma = lambda r: r.masked[r.binary == 255].astype(float).mean(axis=1)  # noqa: E731
    assert luma(b).std() > 2 * luma(a).std()
    path = tmp_path / "green.png"
    Image.fromarray(np.full((20, 30, 3), (20, 220, 40), np.uint8)).save(path)
    green = MaskSynthesizer(SynthOptions(textures=(str(path),), texture_weight=1.0))
    res = green.apply(face, lm, np.random.default_rng(1))
    inside = res.masked[res.binary == 255].astype(float).mean(axis=0)
    assert res.info["texture"] == str(path) and inside[1] > inside[0] + 40


def test_mask_is_shaded_to_the_face_brightness():
    syn = MaskSynthesizer(SynthOptions(types=("surgical",)))
    lm = mean_face_landmarks(64)
    bright = syn.apply(_face(64, (190, 170, 150)), lm, np.random.default_rng(0))
    dim = syn.apply(_face(64, (45, 40, 35)), lm, np.random.default_rng(0))
    mean = lambda r: r.masked[r.binary == 255].astype(float).mean()  # noqa: E731
    assert mean(bright) > 180 and mean(dim) < 0.6 * mean(bright)
    # light falling off across the face darkens the mask on the same side
    face = _face(64, (150, 150, 150))
    face[:, :32] = 70
    res = syn.apply(face, lm, np.random.default_rng(0))
    left, right = res.binary[:, :28] == 255, res.binary[:, 36:] == 255
    assert res.masked[:, :28][left].mean() < res.masked[:, 36:][right].mean() - 10


def test_fast_enough_for_generate():
    syn = MaskSynthesizer(SynthOptions(colors=("random",), textures=("checks",)))
    face = _face(64)
    lms = [mean_face_landmarks(64, yaw=y) for y in (-0.5, 0.0, 0.5)]
    rng = np.random.default_rng(0)
    for i in range(100):  # warm the per-size template cache
        syn.apply(face, lms[i % 3], rng)
    start = time.perf_counter()
    for i in range(300):
        syn.apply(face, lms[i % 3], rng)
    assert (time.perf_counter() - start) / 300 < 2e-3


@pytest.mark.parametrize(
    "options,error",
    [
        (SynthOptions(types=("bandana",)), UsageError),
        (SynthOptions(colors=("blurple",)), UsageError),
        (SynthOptions(colors=("#12345",)), UsageError),
        (SynthOptions(textures=("plaid",)), UsageError),
        (SynthOptions(color_weight=1.5), UsageError),
        (SynthOptions(texture_weight=-0.1), UsageError),
        (SynthOptions(templates_dir=Path("/nonexistent/templates")), TemplateError),
    ],
)
def test_bad_options_fail_up_front(options, error):
    with pytest.raises(error) as info:
        MaskSynthesizer(options)
    assert "\n" not in str(info.value)


def test_unreadable_texture_file(tmp_path):
    bad = tmp_path / "texture.png"
    bad.write_text("not an image")
    with pytest.raises(ImageError, match="cannot read texture"):
        MaskSynthesizer(SynthOptions(textures=(str(bad),)))


def test_bad_face_or_landmarks():
    syn = MaskSynthesizer(SynthOptions())
    rng = np.random.default_rng(0)
    with pytest.raises(ImageError):
        syn.apply(np.zeros((64, 64), np.uint8), mean_face_landmarks(64), rng)
    with pytest.raises(ImageError):
        syn.apply(np.zeros((64, 64, 3), np.float32), mean_face_landmarks(64), rng)
    with pytest.raises(FaceError):
        syn.apply(_face(64), np.zeros((5, 2)), rng)


def test_mask_outside_the_crop_leaves_the_face_alone():
    syn = MaskSynthesizer(SynthOptions())
    face = _face(64)
    res = syn.apply(face, mean_face_landmarks(64) + 500, np.random.default_rng(0))
    np.testing.assert_array_equal(res.masked, face)
    assert not res.binary.any()


def test_parse_color_and_patterns():
    assert appearance.parse_color("Navy") == appearance.PALETTE["navy"]
    assert appearance.parse_color("#0A0b0C") == (10, 11, 12)
    assert appearance.parse_color("random") == "random"
    assert appearance.to_hex((10, 11, 12)) == "#0a0b0c"
    for name in appearance.TEXTURES:
        p = appearance.pattern(name, 40, 60)
        assert p.shape == (40, 60) and p.min() >= 0 and p.max() <= 1
        assert 0.1 < p.mean() < 0.9, name
    c = appearance.random_color(np.random.default_rng(0))
    assert c == appearance.random_color(np.random.default_rng(0)) and all(0 <= v <= 255 for v in c)


@pytest.mark.skipif(not (MTF / "masks.cfg").is_file(), reason="needs ../shared/masktheface")
def test_masktheface_templates_pooled_with_builtin():
    syn = MaskSynthesizer(SynthOptions(templates_dir=MTF, types=("gas", "N95")))
    face = _face(128)
    names = set()
    for s in range(40):
        lm = mean_face_landmarks(128, yaw=(-0.5, 0.0, 0.5)[s % 3])
        res = syn.apply(face, lm, np.random.default_rng(s))
        names.add(res.info["template"])
        x, y = np.round(lm[57]).astype(int)
        assert res.binary[y, x] == 255
        changed = (res.masked != face).any(axis=2)
        np.testing.assert_array_equal(res.binary, np.where(res.alpha >= COVER_ALPHA, 255, 0))
        assert not (changed & (res.alpha == 0)).any()
    assert any(n.startswith("mtf/") for n in names) and any(not n.startswith("mtf/") for n in names)
