"""The Unmasker with a segmenter and a generator of different sizes, and the rule that no pixel of the
mask reaches the generator."""

from __future__ import annotations

import numpy as np
import pytest

from tests.unmask_helpers import make_weights


def _pair(tmp_path, seg: int, gen: int) -> dict:
    return {"segmenter": make_weights(tmp_path / f"s{seg}", size=seg)["segmenter"],
            "generator": make_weights(tmp_path / f"g{gen}", size=gen, seed=1)["generator"]}


def test_128_px_segmenter_with_a_64_px_generator_paints_128_px_crops(tmp_path):
    from maskaway_cli.unmask.pipeline import Unmasker

    unmasker = Unmasker(_pair(tmp_path, 128, 64), device="cpu")
    assert (unmasker.size, unmasker.seg_size, unmasker.gen_size) == (128, 128, 64)
    rng = np.random.default_rng(0)
    crop = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    given = np.zeros((128, 128), np.uint8)
    given[70:120, 30:100] = 255
    [out] = unmasker([crop], [given])
    assert out.result.shape == (128, 128, 3) and out.has_mask
    outside = given == 0
    np.testing.assert_array_equal(out.result[outside], crop[outside])  # 128 px detail kept outside the mask
    assert unmasker.probabilities([crop]).shape == (1, 128, 128)  # at the crop's size, whatever the model's


def test_no_pixel_of_the_mask_reaches_the_generator(tmp_path, monkeypatch):
    """A bright mask on dark skin: what the generator is given holds none of the mask's colour, even where
    its 64 px grid only half covers a mask pixel of the 128 px crop."""
    import maskaway_cli.models.unet as unet
    from maskaway_cli.unmask.pipeline import Unmasker

    seen = {}
    real = unet.inpaint

    def spy(generator, images, masks):
        seen["images"], seen["masks"] = images.clone(), masks.clone()
        return real(generator, images, masks)

    monkeypatch.setattr(unet, "inpaint", spy)
    unmasker = Unmasker(_pair(tmp_path, 128, 64), device="cpu")
    crop = np.full((128, 128, 3), (70, 45, 35), np.uint8)  # dark skin
    given = np.zeros((128, 128), np.uint8)
    given[71:119, 29:101] = 255  # odd edges: half-covered 64 px cells on every side
    crop[given == 255] = (250, 250, 250)  # a white mask
    unmasker([crop], [given])
    images = seen["images"][0].permute(1, 2, 0).numpy() * 255  # (64,64,3) what the generator sees
    context = seen["masks"][0, 0].numpy() == 0  # pixels given to it as real
    assert context.any() and images[context].max() < 100  # no white anywhere in its context



def test_calibration_in_the_segmenter_metadata_sets_the_defaults(tmp_path):
    from dataclasses import replace

    from safetensors.torch import load_file

    from maskaway_cli.unmask.pipeline import DEFAULT_THRESHOLD, Unmasker
    from maskaway_cli.weights_io import read_meta, save_weights

    weights = _pair(tmp_path, 64, 64)
    assert Unmasker(weights, device="cpu").threshold == DEFAULT_THRESHOLD  # uncalibrated
    seg = weights["segmenter"]
    meta = read_meta(seg)
    calibration = {"threshold": 0.35, "grow": 0.03, "min_mask_fraction": 0.07, "min_confidence": 0.9}
    save_weights(seg, load_file(str(seg)), replace(meta, info={**meta.info, "calibration": calibration}))
    unmasker = Unmasker(weights, device="cpu")
    assert (unmasker.threshold, unmasker.grow, unmasker.min_mask_fraction, unmasker.min_confidence) == \
        (0.35, 0.03, 0.07, 0.9)
    assert Unmasker(weights, device="cpu", threshold=0.6).threshold == 0.6  # --threshold still wins
    assert Unmasker(weights, device="cpu", min_confidence=0.0).min_confidence == 0.0
    crop = np.zeros((64, 64, 3), np.uint8)
    small = np.zeros((64, 64), np.uint8)
    small[40:48, 20:40] = 255  # 160 px = 3.9% of the crop: a mask by default, not under this calibration
    assert not unmasker([crop], [small])[0].has_mask


def test_a_mask_found_with_too_little_confidence_is_left_unpainted(tmp_path):
    from maskaway_cli.unmask.pipeline import Unmasker

    unmasker = Unmasker(_pair(tmp_path, 64, 64), device="cpu", min_confidence=0.8)
    crop = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    probs = np.zeros((64, 64), np.float32)
    probs[30:60, 10:54] = 0.6  # a big mask, but a hesitant one
    unmasker.segment = lambda crops: (np.stack([probs] * len(crops)), np.zeros((len(crops), 8), np.float32))  # its verdict
    [out] = unmasker([crop])
    assert not out.has_mask and out.mask_fraction > 0.2 and out.confidence == pytest.approx(0.6)
    assert np.array_equal(out.result, crop)  # untouched
    unmasker.min_confidence = 0.5
    assert unmasker([crop])[0].has_mask
