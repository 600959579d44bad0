"""The mask families and photo conditions of real web photos: worn low, dark cloth with folds, no mask at
all, and degraded photos."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from maskaway_cli.cli.app import app
from maskaway_cli.synth import degrade
from maskaway_cli.synth.anchors import mean_face_landmarks
from maskaway_cli.synth.compose import MaskSynthesizer, SynthOptions

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _face(size: int = 128) -> np.ndarray:
    ramp = np.linspace(120, 220, size, dtype=np.float32)
    return np.dstack([np.tile(ramp, (size, 1))] * 3).astype(np.uint8)  # (S,S,3) lit from the right


def _centroid_y(binary: np.ndarray) -> float:
    return float(np.nonzero(binary)[0].mean())


def test_masks_worn_low_sit_lower_and_say_so():
    face, lm = _face(), mean_face_landmarks(128)
    high = MaskSynthesizer(SynthOptions(types=("surgical",))).apply(face, lm, np.random.default_rng(1))
    low = MaskSynthesizer(SynthOptions(types=("surgical",), worn_low=1.0)).apply(face, lm, np.random.default_rng(1))
    assert "worn_low" not in high.info and 0.3 <= low.info["worn_low"] <= 1.0
    nose_tip_y = lm[30, 1]
    assert _centroid_y(low.binary) > _centroid_y(high.binary) + 5
    assert (np.nonzero(low.binary)[0].min() > nose_tip_y - 4) or low.info["worn_low"] < 0.5  # nose left out


def test_gaiters_run_down_the_neck_past_the_chin():
    face, lm = _face(), mean_face_landmarks(128)
    plain = MaskSynthesizer(SynthOptions(types=("cloth",))).apply(face, lm, np.random.default_rng(1))
    neck = MaskSynthesizer(SynthOptions(types=("cloth",), gaiter=1.0)).apply(face, lm, np.random.default_rng(1))
    assert "gaiter" not in plain.info and 0.4 <= neck.info["gaiter"] <= 0.9
    chin_y = lm[8, 1]
    rows = np.nonzero(neck.binary)[0]
    assert rows.max() > max(np.nonzero(plain.binary)[0].max(), chin_y) + 8  # well below the chin
    mid = int(round(lm[30, 0]))  # down the middle of the face (the ear loops reach higher at the sides)
    top, plain_top = np.nonzero(neck.binary[:, mid])[0].min(), np.nonzero(plain.binary[:, mid])[0].min()
    assert lm[36:48, 1].max() < top < lm[30, 1] and abs(top - plain_top) <= 4  # still on the nose
    # drawn from every type, a gaiter is cloth (a respirator stretched down the neck is nothing real)
    many = MaskSynthesizer(SynthOptions(types=("N95", "gas", "cloth"), gaiter=1.0))
    assert {many.apply(face, lm, np.random.default_rng(i)).info["mask_type"] for i in range(6)} == {"cloth"}


def test_valves_are_drawn_on_the_mask_and_covered_by_its_binary():
    face, lm = _face(), mean_face_landmarks(128)
    opts = dict(types=("N95",), colors=("white",), color_weight=1.0)
    plain = MaskSynthesizer(SynthOptions(**opts)).apply(face, lm, np.random.default_rng(3))
    with_valve = MaskSynthesizer(SynthOptions(**opts, valve=1.0)).apply(face, lm, np.random.default_rng(3))
    v = with_valve.info["valve"]
    assert "valve" not in plain.info and 0.08 <= v["r"] <= 0.12 and v["colour"].startswith("#")
    changed = np.abs(with_valve.masked.astype(int) - plain.masked.astype(int)).max(axis=2) > 20
    assert changed.sum() > 30  # a visible disc
    assert (with_valve.binary[changed] == 255).all()  # every valve pixel is in the mask
    assert np.array_equal(with_valve.binary, plain.binary)  # the valve sits inside the mask's outline


def test_dark_masks_keep_their_folds():
    face, lm = _face(), mean_face_landmarks(128)
    synth = MaskSynthesizer(SynthOptions(types=("surgical",), colors=("black",), color_weight=1.0))
    result = synth.apply(face, lm, np.random.default_rng(0))
    inside = result.masked[result.binary == 255].astype(float).mean(axis=1)
    assert inside.mean() < 70  # a black mask
    assert inside.std() > 4  # pleats and shading still show, not one flat black


def test_degradation_treats_both_images_of_a_pair_alike_and_is_reproducible():
    a = _face()
    b = a.copy()
    b[60:90, 40:90] = (30, 30, 30)  # the "masked" image of the pair
    d = degrade.draw(np.random.default_rng(5))
    assert d == degrade.draw(np.random.default_rng(5)) and json.dumps(d.info())
    full = degrade.Degradation(rescale=0.5, blur=1.0, low_light=(0.6, 1.4), cast=(1.1, 1.0, 0.9), noise=6.0, jpeg=30)
    da, db = full.apply(a), full.apply(b)
    untouched = np.ones(a.shape[:2], bool)
    untouched[36:114, 16:114] = False  # away from the difference (scaling, blur and JPEG blocks spread it)
    np.testing.assert_array_equal(da[untouched], db[untouched])  # same noise, same everything
    assert np.abs(da.astype(int) - a.astype(int)).mean() > 10  # and it did degrade
    assert np.array_equal(degrade.Degradation().apply(a), a)  # nothing drawn: unchanged


def test_generate_bare_and_degraded_samples(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative source name: the random draws depend on it, not on tmp_path
    src, ds = tmp_path / "src", tmp_path / "ds"
    src.mkdir()
    shutil.copy(EXAMPLES / "cc0_lisa2.jpg", src / "a.jpg")
    result = CliRunner().invoke(app, ["generate", "src", "-o", str(ds), "--workers", "1", "--per-face", "4",
                                      "--bare", "0.5", "--degrade", "1", "--seed", "2"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in (ds / "manifest.jsonl").read_text().splitlines()]
    bare = [r for r in records if r["mask_type"] == "none"]
    masked = [r for r in records if r["mask_type"] != "none"]
    assert bare and masked and all(r["degraded"] for r in records)
    for r in bare:  # no mask: an empty binary and the masked image is the (degraded) original itself
        assert not np.asarray(Image.open(ds / "binary" / f"{r['id']}.png")).any()
        assert (ds / "masked" / f"{r['id']}.png").read_bytes() == (ds / "original" / f"{r['id']}.png").read_bytes()
    for r in masked:
        binary = np.asarray(Image.open(ds / "binary" / f"{r['id']}.png")) == 255
        orig, mk = (np.asarray(Image.open(ds / k / f"{r['id']}.png")).astype(int) for k in ("original", "masked"))
        # a pair still, and the mask grew over the rim that blur and scaling spread: outside it, no pixel
        # is more than 16 levels off (as for clean samples)
        assert binary.mean() > 0.1 and np.abs(orig - mk).max(axis=2)[~binary].max() <= 16


def test_lookalikes_leave_the_mouth_alone_and_are_in_both_images(tmp_path):
    """A scarf below the chin or a microphone by the mouth: drawn on the original too, binary empty."""
    from maskaway_cli.synth import lookalike

    face, lm = _face(), mean_face_landmarks(128)
    kinds = {}
    for seed in range(16):
        out, info = lookalike.draw(face, lm, np.random.default_rng(seed))
        changed = np.abs(out.astype(int) - face.astype(int)).max(axis=2) > 10
        assert changed.sum() > 50, info  # something visible was drawn
        kinds[info["lookalike"]] = changed
    assert set(kinds) == set(lookalike.KINDS)
    # a scarf stays below the jaw line (outside the face's outline); neither covers the lips
    import cv2

    outline = np.concatenate([lm[0:17], lm[26:16:-1]]).astype(np.int32)  # jaw, then brows back
    inside = np.zeros(face.shape[:2], np.uint8)
    cv2.fillPoly(inside, [outline], 1)
    assert not (kinds["scarf"] & (inside > 0)).any()
    lips = np.zeros(face.shape[:2], bool)
    lips[int(lm[50:53, 1].min()):int(lm[56:59, 1].max()), int(lm[48, 0]):int(lm[54, 0])] = True
    assert not (kinds["scarf"] & lips).any() and not (kinds["microphone"] & lips).any()
    # a beard covers the jaw and chin inside the outline, under the nose, and lets the lips through
    lip_line = np.zeros(face.shape[:2], np.uint8)
    cv2.fillPoly(lip_line, [lm[48:60].astype(np.int32)], 1)
    inner_lips = cv2.erode(lip_line, np.ones((3, 3), np.uint8)) > 0
    beard = kinds["beard"]
    nose = (slice(None, int(lm[31:36, 1].min())), slice(int(lm[31, 0]), int(lm[35, 0]) + 1))
    assert beard[inside > 0].mean() > 0.2 and not beard[nose].any()  # up the jaw, never over the nose
    assert not beard[: int(min(lm[1, 1], lm[15, 1]))].any()  # nor above the cheeks
    assert beard[inner_lips].mean() < 0.1
    # a hand covers the mouth, in the face's own skin tone
    from maskaway_cli.synth.lookalike import _hand, _skin_tone

    hand = _hand(face, lm, np.random.default_rng(0))
    covered = np.abs(hand.astype(int) - face.astype(int)).max(axis=2) > 10
    assert covered[inner_lips].mean() > 0.8
    assert np.abs(np.median(hand[covered], axis=0) - _skin_tone(face, lm)).max() < 30

    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(EXAMPLES / "cc0_lisa2.jpg", src / "a.jpg")
    res = CliRunner().invoke(app, ["generate", str(src), "-o", str(tmp_path / "ds"), "--size", "128",
                                   "--bare", "1", "--lookalike", "1", "--workers", "1"])
    assert res.exit_code == 0, res.output
    [rec] = [json.loads(x) for x in (tmp_path / "ds" / "manifest.jsonl").read_text().splitlines()]
    assert rec["mask_type"] == "none" and rec["lookalike"] in lookalike.KINDS
    read = lambda k: np.asarray(Image.open(tmp_path / "ds" / k / f"{rec['id']}.png"))  # noqa: E731
    assert np.array_equal(read("masked"), read("original")) and not read("binary").any()
