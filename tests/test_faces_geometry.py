"""Alignment, its inverse and detector post-processing on synthetic data (no models needed)."""

from __future__ import annotations

import numpy as np
import pytest

from maskaway_cli.errors import FaceError, UsageError
from maskaway_cli.faces import align
from maskaway_cli.faces.detect import Detection, DetectorConfig, _finish, suppress_duplicates
from maskaway_cli.faces.landmarks import to_predictor_box
from maskaway_cli.faces.models import model_path


def _face_landmarks(matrix: np.ndarray, size: int) -> np.ndarray:
    """68 points whose eyes and bridge sit exactly on the template, mapped into a photo by ``matrix``."""
    rng = np.random.default_rng(0)
    pts = rng.uniform(0, size, (68, 2))
    tp = align.template_points(size)
    # make each eye's six points average to the template eye centre
    for sl, centre in ((slice(36, 42), tp[0]), (slice(42, 48), tp[1])):
        ring = np.stack([np.cos(np.linspace(0, 6, 6)), np.sin(np.linspace(0, 6, 6))], 1) * 3
        pts[sl] = centre + ring - ring.mean(0)
    pts[27], pts[28] = tp[2], tp[3]
    return align.transform_points(pts, align.invert(matrix))


def _similarity(scale: float, angle_deg: float, tx: float, ty: float) -> np.ndarray:
    a = np.deg2rad(angle_deg)
    rot = scale * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return np.hstack([rot, [[tx], [ty]]])


@pytest.mark.parametrize("size", [64, 128, 256])
@pytest.mark.parametrize("scale,angle", [(0.2, 0.0), (0.5, 12.0), (1.3, -25.0)])
def test_alignment_recovers_a_known_similarity(size, scale, angle):
    truth = _similarity(scale, angle, 17.0, -9.0)
    lm = _face_landmarks(truth, size)
    m = align.alignment_matrix(lm, size)
    np.testing.assert_allclose(m, truth, atol=1e-4)


def test_invert_and_transform_round_trip():
    m = _similarity(0.37, 21.0, 5.0, 40.0)
    pts = np.random.default_rng(1).uniform(-100, 900, (50, 2))
    back = align.transform_points(align.transform_points(pts, m), align.invert(m))
    np.testing.assert_allclose(back, pts, atol=1e-3)


@pytest.mark.parametrize("scale", [0.9, 0.1])  # 0.1 goes through the area pre-shrink
def test_align_face_puts_a_photo_spot_where_the_matrix_says(scale):
    size = 64
    truth = _similarity(scale, 10.0, 3.0, 2.0)
    photo_h = photo_w = int(size / scale) + 40
    rgb = np.zeros((photo_h, photo_w, 3), np.uint8)
    target_crop = np.array([[40.0, 20.0]])  # a spot in crop coordinates
    spot = align.transform_points(target_crop, align.invert(truth))[0]
    radius = max(2, int(3 / scale))
    yy, xx = np.mgrid[:photo_h, :photo_w]
    rgb[(xx - spot[0]) ** 2 + (yy - spot[1]) ** 2 <= radius**2] = 255
    lm = _face_landmarks(truth, size)
    face = align.align_face(rgb, lm, size)
    assert face.crop.shape == (size, size, 3)
    weight = face.crop[:, :, 0].astype(float)
    yy, xx = np.mgrid[:size, :size]
    x, y = (weight * xx).sum() / weight.sum(), (weight * yy).sum() / weight.sum()  # spot centroid
    assert abs(x - 40) <= 1.5 and abs(y - 20) <= 1.5
    np.testing.assert_allclose(face.landmarks, align.transform_points(lm, face.matrix), atol=1e-4)


def test_unalign_restores_the_photo_inside_the_crop():
    rng = np.random.default_rng(3)
    base = rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)
    import cv2

    photo = cv2.resize(base, (400, 400), interpolation=cv2.INTER_CUBIC)  # smooth enough to resample
    m = _similarity(0.5, 8.0, -20.0, -30.0)
    crop = cv2.warpAffine(photo, m, (128, 128), flags=cv2.INTER_LINEAR)
    back, coverage = align.unalign(crop, m, photo.shape[:2])
    inside = coverage > 0.999
    assert inside.sum() > 20000 and (coverage == 0).sum() > 20000
    err = np.abs(back[inside].astype(float) - photo[inside].astype(float)).mean()
    assert err < 6.0


def test_nested_duplicate_boxes_are_suppressed():
    outer = Detection((10, 10, 110, 130), 0.9)
    inner = Detection((20, 30, 100, 120), 0.6)
    other = Detection((200, 10, 300, 130), 0.8)
    kept = suppress_duplicates([inner, outer, other])
    assert kept == [outer, other]


def test_finish_clips_and_drops_small_faces():
    dets = [Detection((-20, -10, 80, 90), 0.9), Detection((5, 5, 15, 15), 0.95)]
    out = _finish(dets, (100, 100, 3), DetectorConfig(min_face=20))
    assert out == [Detection((0.0, 0.0, 80, 90), 0.9)]
    dets.append(Detection((85, 85, 95, 95), 0.92))  # small and apart from the big one
    kept = _finish(dets, (100, 100, 3), DetectorConfig(min_face=20, keep_small=True))  # reported, not dropped
    assert kept == [Detection((0.0, 0.0, 80, 90), 0.9), Detection((85, 85, 95, 95), 0.92)]  # not the one on the face


def test_retina_passes_cover_the_face_sizes_asked_for():
    from maskaway_cli.faces.retina import COARSE_SIDE, FACE_AT_INPUT, MAX_SIDE, UPSAMPLE_SIDE, pass_sides

    assert pass_sides(200, 200, 40) == [COARSE_SIDE]  # a crop: its faces are big at 160 px already
    for h, w, min_face in ((200, 200, 20), (400, 300, 20), (1350, 1350, 40)):
        sides = pass_sides(h, w, min_face)
        assert sides[0] == COARSE_SIDE and sides[1] <= MAX_SIDE
        assert min_face * sides[1] / max(h, w) >= FACE_AT_INPUT or sides[1] == MAX_SIDE
    # a small web photo whose small faces the fine pass cannot bring to 32 px: upsampled once more
    assert pass_sides(400, 300, 20) == [COARSE_SIDE, MAX_SIDE, UPSAMPLE_SIDE]
    assert pass_sides(200, 200, 20) == [COARSE_SIDE, 320] and len(pass_sides(1350, 1350, 20)) == 2


def test_faces_under_the_threshold_are_kept_only_where_two_passes_agree():
    from maskaway_cli.faces.detect import agreed

    sure, weak_a, weak_b, alone = (Detection((0, 0, 50, 50), 0.9), Detection((100, 100, 130, 130), 0.55),
                                   Detection((102, 101, 131, 132), 0.6), Detection((200, 0, 230, 30), 0.65))
    kept = agreed([[sure, weak_a], [weak_b, alone]], 0.7)
    assert kept == [sure, weak_a, weak_b]  # the lone 0.65 is not confirmed by any other pass


def test_a_face_filling_the_frame_is_looked_for_once_more_in_a_plain_border(monkeypatch):
    """Nothing found, mirrored or not: the photo is framed by RESCUE_PAD of its side in the network's mean
    colour, and what is found there comes back in the photo's own pixels, box and landmarks."""
    from maskaway_cli.faces import retina
    from maskaway_cli.faces.detect import RetinaDetector

    photo = np.full((100, 80, 3), 200, np.uint8)
    pad = round(retina.RESCUE_PAD * 100)
    seen = []

    def fake(rgb, *, side, threshold, threads=1):
        seen.append(rgb.shape[:2])
        if rgb.shape[:2] != (100 + 2 * pad, 80 + 2 * pad):
            return np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2))
        assert tuple(rgb[0, 0]) == tuple(round(v) for v in retina.MEAN_BGR[::-1])  # the border, in RGB
        box = np.array([[pad + 5, pad + 10, pad + 75, pad + 100]], float)  # runs off the photo's foot
        points = np.array([[[pad + 20, pad + 40]] * 5], float)
        return box, np.array([0.9]), points

    monkeypatch.setattr(retina, "detect", fake)
    monkeypatch.setattr(retina, "session", lambda threads=1: None)
    (face,) = RetinaDetector(DetectorConfig(min_face=20))(photo)
    assert face.box == (5.0, 10.0, 75.0, 100.0) and face.points[0] == (20.0, 40.0)
    assert (100 + 2 * pad, 80 + 2 * pad) in seen and seen[0] == (100, 80)  # the plain passes came first


def test_a_photo_with_a_face_is_never_framed(monkeypatch):
    from maskaway_cli.faces import retina
    from maskaway_cli.faces.detect import RetinaDetector

    seen = []

    def fake(rgb, *, side, threshold, threads=1):
        seen.append(rgb.shape[:2])
        return np.array([[10.0, 10.0, 60.0, 60.0]]), np.array([0.95]), np.full((1, 5, 2), 30.0)

    monkeypatch.setattr(retina, "detect", fake)
    monkeypatch.setattr(retina, "session", lambda threads=1: None)
    assert len(RetinaDetector(DetectorConfig(min_face=20))(np.zeros((100, 80, 3), np.uint8))) == 1
    assert set(seen) == {(100, 80)}


def test_retina_box_is_converted_to_a_square_hog_style_box():
    x0, y0, x1, y1 = to_predictor_box((100, 100, 180, 200), "retina")
    assert x1 - x0 == pytest.approx(y1 - y0) and (x1 - x0) < 90  # square, a little tighter


def test_ssd_box_is_converted_to_a_square_hog_style_box():
    x0, y0, x1, y1 = to_predictor_box((100, 100, 188, 200), "ssd")
    assert x1 - x0 == pytest.approx(y1 - y0)
    assert (x0 + x1) / 2 < 144 and (y0 + y1) / 2 < 150  # moved up and left, as fitted
    assert to_predictor_box((1, 2, 3, 4), "hog") == (1, 2, 3, 4)


@pytest.mark.parametrize("kwargs", [{"kind": "yolo"}, {"confidence": 1.5}, {"min_face": 0}])
def test_bad_detector_options_are_usage_errors(kwargs):
    with pytest.raises(UsageError):
        DetectorConfig(**kwargs)


def test_model_file_with_wrong_checksum_is_refused():
    spec = ("face_recognition_models", "face_recognition_models/models/shape_predictor_5_face_landmarks.dat", "0" * 64)
    with pytest.raises(FaceError, match="sha256"):
        model_path(spec)


def test_missing_model_package_is_a_clear_error():
    with pytest.raises(FaceError, match="not installed"):
        model_path(("no-such-package-xyz", "x.dat", "0" * 64))


def test_box_iou_by_hand():
    from maskaway_cli.faces.detect import box_iou

    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert box_iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
