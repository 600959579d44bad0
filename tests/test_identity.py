"""The identity score of ``evaluate --photos``: names to people, nearest-original matching, real dlib."""

from __future__ import annotations

import numpy as np
import pytest

from maskaway_cli.evaluation.identity import SAME_PERSON, descriptor, matches, person_of
from tests.helpers import FIXTURES, need


def test_names_differing_in_a_trailing_number_are_one_person() -> None:
    assert person_of("cc0_lisa1") == person_of("cc0_lisa4") == "cc0_lisa"
    assert person_of("cc0_zoom_15cm") == person_of("cc0_zoom_60cm") == "cc0_zoom"
    assert person_of("london_001_neutral") != person_of("london_002_neutral")
    assert person_of("42") == "42"


def test_a_match_needs_the_right_nearest_person_within_the_threshold() -> None:
    a, b = np.zeros(128, np.float32), np.full(128, 0.1, np.float32)  # |a - b| = 1.13
    gallery = [("ann", a), ("bob", b)]
    near_a = a + 0.01
    assert matches([("ann", near_a), ("bob", near_a), ("bob", b)], gallery) == [True, False, True]
    far = a + 1.0  # nearest is bob, but nowhere near him either
    assert matches([("bob", far)], gallery) == [False]
    assert np.linalg.norm(far - b) > SAME_PERSON


def test_dlib_tells_two_real_people_apart_and_knows_one_again() -> None:
    import cv2

    from maskaway_cli.faces.detect import DetectorConfig, make_detector
    from maskaway_cli.imageio import load_rgb

    detect = make_detector(DetectorConfig())
    faces = {}
    for name in ("london_001_neutral", "london_002_neutral"):
        rgb = load_rgb(need(FIXTURES) / f"{name}.jpg")
        faces[name] = (rgb, detect(rgb)[0].box)
    one = descriptor(*faces["london_001_neutral"])
    two = descriptor(*faces["london_002_neutral"])
    rgb, box = faces["london_001_neutral"]
    ok, jpg = cv2.imencode(".jpg", rgb, [cv2.IMWRITE_JPEG_QUALITY, 40])
    again = descriptor(cv2.imdecode(jpg, cv2.IMREAD_UNCHANGED), box)  # channel order kept as is
    assert one.shape == (128,)
    assert np.linalg.norm(one - again) < 0.3 < SAME_PERSON < np.linalg.norm(one - two)
    assert matches([("london_001_neutral", again)], [("london_001_neutral", one), ("london_002_neutral", two)]) == [True]
