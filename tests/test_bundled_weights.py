"""The default weights bundled in the package: metadata, and real unmasking (fails if they were random)."""

from __future__ import annotations

import numpy as np
import pytest

from maskaway_cli import paths
from tests.helpers import FIXTURES, need

BUNDLED = paths.bundled_weights_dir()


@pytest.fixture(scope="module")
def bundled():
    files = {k: BUNDLED / f"{k}.safetensors" for k in ("segmenter", "generator", "presence")}
    if not all(p.is_file() for p in files.values()):
        pytest.skip("no bundled weights in this checkout")
    return files


def test_bundled_weights_load_with_their_metadata(bundled):
    from maskaway_cli.weights_io import load_model

    sizes = {"segmenter": 128, "generator": 128, "presence": 128}
    for kind, path in bundled.items():
        model, meta = load_model(path, kind=kind)
        assert meta.kind == kind and meta.image_size == sizes[kind] and meta.info.get("dtype") == "float16"
    calibration = load_model(bundled["segmenter"])[1].info["calibration"]
    assert 0 < calibration["threshold"] < 1 and 0 < calibration["min_mask_fraction"] < 0.2
    presence = load_model(bundled["presence"])[1].info["calibration"]
    assert 0 < presence["threshold"] < 1 and presence["unmasked_flagged"] <= 0.03
    assert sum(p.stat().st_size for p in bundled.values()) < 25 * 1000 * 1000


def test_bundled_segmenter_leaves_faces_without_a_mask_alone(bundled):
    """Real unmasked faces: the photos come back unchanged (the masked ones are unmasked, test below)."""
    from pathlib import Path

    from maskaway_cli.faces.detect import DetectorConfig, make_detector
    from maskaway_cli.imageio import load_rgb
    from maskaway_cli.unmask.pipeline import Unmasker, resolve_weights, unmask_photo

    detect = make_detector(DetectorConfig())
    unmasker = Unmasker(resolve_weights(()), device="cpu")
    examples = Path(__file__).resolve().parents[1] / "examples"
    for name in ("cc0_lisa2.jpg", "cc0_zoom_30cm.jpg"):
        rgb = load_rgb(examples / name)
        result, region, outputs = unmask_photo(rgb, unmasker, detect)
        assert len(outputs) == 1 and not outputs[0].has_mask and not region.any()
        assert np.array_equal(result, rgb)


# maskdet_maksssksksss340.jpg (CC0): its labelled faces (x0, y0, x1, y1) -> wears a mask? (A fourth,
# masked, is cut in half by the top of the frame and not found.)
STREET_FACES = {(133, 83, 195, 140): False, (243, 85, 308, 147): True, (458, 68, 527, 157): True}


def test_in_a_street_photo_masked_faces_are_unmasked_and_the_unmasked_one_left_alone(bundled):
    from pathlib import Path

    from maskaway_cli.faces.detect import DetectorConfig, box_iou, make_detector
    from maskaway_cli.imageio import load_rgb
    from maskaway_cli.unmask.pipeline import Unmasker, aligned_faces, resolve_weights

    unmasker = Unmasker(resolve_weights(()), device="cpu")
    rgb = load_rgb(Path(__file__).resolve().parents[1] / "examples" / "maskdet_maksssksksss340.jpg")
    found = aligned_faces(rgb, make_detector(DetectorConfig()), unmasker.size)
    outputs = unmasker([a.crop for _, a in found])
    for box, masked in STREET_FACES.items():
        i = max(range(len(found)), key=lambda k: box_iou(found[k][0].box, box))
        assert box_iou(found[i][0].box, box) >= 0.3, f"face {box} not found"
        assert outputs[i].worn is masked and outputs[i].has_mask is masked, (box, outputs[i].presence)


def test_bundled_weights_unmask_a_masked_fixture(bundled):
    from maskaway_cli.faces.detect import DetectorConfig, make_detector
    from maskaway_cli.faces.landmarks import predict_landmarks
    from maskaway_cli.imageio import load_rgb
    from maskaway_cli.unmask.pipeline import Unmasker, resolve_weights, unmask_photo
    from maskaway_cli.synth.compose import MaskSynthesizer, SynthOptions
    from maskaway_cli.synth.photo import mask_photo

    detect = make_detector(DetectorConfig())
    unmasker = Unmasker(resolve_weights(()), device="cpu")  # the defaults, with nothing else installed
    assert set(unmasker.weights.values()) == set(bundled.values())
    errors_in, errors_out = [], []
    for i, name in enumerate(("london_002_neutral.jpg", "london_012_neutral.jpg", "cc0_lisa2.jpg")):
        rgb = load_rgb(need(FIXTURES) / name)
        lm = predict_landmarks(rgb, max(detect(rgb), key=lambda d: d.size).box)
        masked = mask_photo(rgb, [lm], MaskSynthesizer(SynthOptions()), np.random.default_rng(i))
        result, region, outputs = unmask_photo(masked.rgb, unmasker, detect)
        truth = masked.binary > 0
        assert any(o.has_mask for o in outputs) and region[truth].mean() > 0.9  # the mask was found
        errors_in.append(np.abs(masked.rgb[truth].astype(float) - rgb[truth]).mean())
        errors_out.append(np.abs(result[truth].astype(float) - rgb[truth]).mean())
    # in-mask error far below the masked input's: random weights would paint noise or flat colour
    assert np.mean(errors_out) < 0.5 * np.mean(errors_in)
