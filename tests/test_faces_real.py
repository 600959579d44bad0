"""Detection, landmarks and alignment on real photos from ../shared (skipped when absent)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import FIXTURES, REALMASK, need, read_tem_pupils


def _load(path):
    from maskaway_cli.imageio import load_rgb

    return load_rgb(path)


@pytest.fixture(scope="module")
def ssd():
    from maskaway_cli.faces.detect import DetectorConfig, make_detector

    return make_detector(DetectorConfig())


def _biggest(dets):
    return max(dets, key=lambda d: d.size)


def test_ssd_finds_the_face_in_every_unmasked_fixture(ssd):
    photos = sorted(need(FIXTURES).glob("*.jpg"))
    assert len(photos) >= 20
    for photo in photos:
        dets = ssd(_load(photo))
        assert dets, f"no face in {photo.name}"
        (lx, ly), (rx, ry) = read_tem_pupils(photo.with_suffix(".tem"))
        x0, y0, x1, y1 = _biggest(dets).box
        assert x0 < lx < x1 and y0 < ly < y1 and x0 < rx < x1, photo.name  # the box holds the eyes


def test_landmark_eyes_match_the_hand_placed_pupils(ssd):
    from maskaway_cli.faces.landmarks import eye_centres, predict_landmarks

    errors = []
    for photo in sorted(need(FIXTURES).glob("london_*.jpg")):
        rgb = _load(photo)
        lm = predict_landmarks(rgb, _biggest(ssd(rgb)).box)
        left, right = eye_centres(lm)
        pl, pr = (np.array(p) for p in read_tem_pupils(photo.with_suffix(".tem")))
        iod = np.linalg.norm(pr - pl)
        errors += [np.linalg.norm(left - pl) / iod, np.linalg.norm(right - pr) / iod]
    assert np.median(errors) < 0.05  # eye centre (landmark ring) vs pupil: a few % of the eye distance


def test_ssd_finds_most_real_masked_faces(ssd):
    photos = sorted(need(REALMASK).glob("*.png"))[::22]  # 40 of 883; the benchmark runs all of them
    found = sum(bool(ssd(_load(p))) for p in photos)
    assert found / len(photos) >= 0.8


def test_hog_misses_most_masked_faces_that_ssd_finds():
    from maskaway_cli.faces.detect import DetectorConfig, make_detector

    hog = make_detector(DetectorConfig(kind="hog"))
    photos = sorted(need(REALMASK).glob("*.png"))[::44]
    assert sum(bool(hog(_load(p))) for p in photos) / len(photos) < 0.5


def test_alignment_round_trip_on_a_real_fixture(ssd):
    from maskaway_cli.faces.align import align_face, template_points, transform_points, unalign
    from maskaway_cli.faces.landmarks import eye_centres, predict_landmarks

    rgb = _load(need(FIXTURES) / "london_001_neutral.jpg")
    lm = predict_landmarks(rgb, _biggest(ssd(rgb)).box)
    face = align_face(rgb, lm, 256)
    left, right = eye_centres(face.landmarks)
    tp = template_points(256)
    assert np.linalg.norm(left - tp[0]) < 2.0 and np.linalg.norm(right - tp[1]) < 2.0
    # chin and jaw stay inside the crop
    assert face.landmarks[:17].min() > 0 and face.landmarks[:17].max() < 256
    # the crop goes back where it came from
    back, coverage = unalign(face.crop, face.matrix, rgb.shape[:2])
    inside = coverage > 0.999
    assert np.abs(back[inside].astype(int) - rgb[inside].astype(int)).mean() < 8
    np.testing.assert_allclose(transform_points(face.landmarks, np.linalg.inv(np.vstack([face.matrix, [0, 0, 1]]))[:2]), lm, atol=1e-2)


@pytest.mark.parametrize("kind", ["hog", "cnn"])
def test_dlib_detectors_find_an_unmasked_fixture(kind):
    from maskaway_cli.faces.detect import DetectorConfig, make_detector

    rgb = _load(need(FIXTURES) / "london_002_neutral.jpg")
    dets = make_detector(DetectorConfig(kind=kind))(rgb)
    assert len(dets) == 1
    (lx, ly), _ = read_tem_pupils(FIXTURES / "london_002_neutral.tem")
    x0, y0, x1, y1 = dets[0].box
    assert x0 < lx < x1 and y0 < ly < y1


def test_eyes_stay_put_when_the_face_wears_a_mask(ssd):
    from maskaway_cli.faces.landmarks import eye_centres, predict_landmarks
    from maskaway_cli.synth.compose import MaskSynthesizer, SynthOptions
    from maskaway_cli.synth.photo import mask_photo

    synth = MaskSynthesizer(SynthOptions())
    errors, found = [], 0
    photos = sorted(need(FIXTURES).glob("*.jpg"))[::2]
    for i, photo in enumerate(photos):
        rgb = _load(photo)
        lm = predict_landmarks(rgb, _biggest(ssd(rgb)).box)
        masked = mask_photo(rgb, [lm], synth, np.random.default_rng(i))
        untouched = masked.binary == 0
        assert masked.binary.mean() > 0 and (masked.rgb != rgb).any(axis=2)[untouched].mean() < 0.01
        dets = ssd(masked.rgb)  # the masked face must still be found ...
        if not dets:
            continue
        found += 1
        lm2 = predict_landmarks(masked.rgb, _biggest(dets).box)
        (l1, r1), (l2, r2) = eye_centres(lm), eye_centres(lm2)
        iod = np.linalg.norm(r1 - l1)
        errors += [np.linalg.norm(l2 - l1) / iod, np.linalg.norm(r2 - r1) / iod]
    assert found >= len(photos) - 1
    assert np.median(errors) < 0.05  # ... and its eyes land where they did without the mask
