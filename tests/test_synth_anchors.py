"""Geometry of the six mask anchors and the head-turn estimate, on synthetic landmark sets."""

from __future__ import annotations

import numpy as np
import pytest

from maskaway_cli.errors import FaceError
from maskaway_cli.synth.anchors import head_turn, mean_face_landmarks, six_anchors, turn_variant


def _similarity(points: np.ndarray, angle: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    return (points.astype(np.float64) @ rot.T) * scale + np.asarray(shift)


def _dist_to_polyline(p: np.ndarray, line: np.ndarray) -> float:
    best = np.inf
    for q0, q1 in zip(line[:-1], line[1:]):
        d = q1 - q0
        t = np.clip(np.dot(p - q0, d) / np.dot(d, d), 0, 1)
        best = min(best, float(np.hypot(*(q0 + t * d - p))))
    return best


def test_mean_face_anchors_sit_where_masktheface_puts_them():
    lm = mean_face_landmarks(100).astype(np.float64)
    a, b, c, d, e, f = six_anchors(lm).astype(np.float64)
    assert six_anchors(lm).shape == (6, 2) and six_anchors(lm).dtype == np.float32
    # left/right order, symmetry of a frontal face, and vertical order eyes < b < a/c < d/f < e
    assert a[0] < b[0] < c[0] and d[0] < e[0] < f[0]
    assert a[0] == pytest.approx(100 - c[0], abs=1e-3) and a[1] == pytest.approx(c[1], abs=1e-3)
    eye_y = lm[36:48, 1].mean()
    assert eye_y < b[1] < a[1] < d[1] < e[1]
    # a/c on the eye line lowered by the nose length; d/f on the lower-lip line; all on the jaw
    nose_len = np.hypot(*(lm[27] - lm[30]))
    assert a[1] == pytest.approx(eye_y + nose_len, abs=1e-3)
    assert d[1] == pytest.approx(lm[57, 1], abs=1e-3)
    for p in (a, c, d, e, f):
        assert _dist_to_polyline(p, lm[0:17]) < 1e-3
    assert b[0] == pytest.approx(50) and lm[27, 1] < b[1] < lm[30, 1]
    assert e == pytest.approx(lm[8])


@pytest.mark.parametrize("angle,scale,shift", [(0.5, 1.7, (13.0, -4.0)), (-0.3, 0.6, (100.0, 50.0)),
                                               (np.pi / 2, 2.0, (0.0, 0.0)), (3.0, 1.0, (5.0, 5.0))])
def test_anchors_move_with_the_face(angle, scale, shift):
    for yaw in (0.0, -0.4, 0.3):
        lm = mean_face_landmarks(64, yaw=yaw)
        moved = _similarity(lm, angle, scale, shift)
        expected = _similarity(six_anchors(lm), angle, scale, shift)
        np.testing.assert_allclose(six_anchors(moved), expected, atol=1e-3 * scale)
        assert head_turn(moved) == pytest.approx(head_turn(lm), abs=1e-6)


def test_head_turn_sign_and_variant():
    assert head_turn(mean_face_landmarks(64)) == pytest.approx(0, abs=1e-6)
    left, right = mean_face_landmarks(64, yaw=-0.5), mean_face_landmarks(64, yaw=0.5)
    # the nose really points to image-left in the 'left' set
    assert left[30, 0] < (left[0, 0] + left[16, 0]) / 2
    assert -1 <= head_turn(left) < -0.2 and 0.2 < head_turn(right) <= 1
    assert head_turn(mean_face_landmarks(64, yaw=-0.2)) > head_turn(left)  # grows with the turn
    assert turn_variant(left) == "left" and turn_variant(right) == "right"
    assert turn_variant(mean_face_landmarks(64)) == ""
    assert turn_variant(mean_face_landmarks(64, yaw=-0.1)) == ""
    assert turn_variant(mean_face_landmarks(64, yaw=-0.1), threshold=0.05) == "left"


def test_turned_face_anchors_follow_the_nose():
    a, b, c, *_ = six_anchors(mean_face_landmarks(64, yaw=-0.5))
    assert b[0] - a[0] < c[0] - b[0]  # nose to image-left: the left half of the mask is squeezed


def test_mean_face_scales_with_size():
    np.testing.assert_allclose(mean_face_landmarks(256), mean_face_landmarks(64) * 4, rtol=1e-5)
    lm = mean_face_landmarks(128)
    assert lm.shape == (68, 2) and lm.dtype == np.float32
    assert (lm >= 0).all() and (lm < 128).all()


@pytest.mark.parametrize("bad", [np.zeros((5, 2)), np.zeros((68, 3)), np.full((68, 2), np.nan), np.zeros((68, 2))])
def test_bad_landmarks_raise_one_clear_error(bad):
    with pytest.raises(FaceError):
        six_anchors(bad)
    with pytest.raises(FaceError):
        head_turn(bad)
