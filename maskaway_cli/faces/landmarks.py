"""68-point landmarks (iBUG 300-W numbering) with dlib's shape predictor from face-recognition-models.

The predictor was trained on boxes from dlib's HOG detector, which are square and sit a little higher and
tighter than the SSD's. Boxes from other detectors are converted to that convention first: fed an SSD box
as is, the predictor slides the jaw and eyes. The conversion was fitted on 546 unmasked faces
(UTKFace + fixtures) where both detectors fire (see ``benchmarks/calibrate_boxes.py``).
"""

from __future__ import annotations

import functools

import numpy as np

from maskaway_cli.faces.models import LANDMARKS_68, model_path

# Median offsets of the HOG box centre from the SSD box centre, in SSD box widths/heights, and the HOG
# side as a fraction of sqrt(SSD width * height).
SSD_TO_HOG_DX, SSD_TO_HOG_DY, SSD_TO_HOG_SIDE = -0.043, -0.039, 0.96

# Landmark groups used across the project (0-based indices).
JAW = slice(0, 17)
NOSE_BRIDGE = slice(27, 31)
LEFT_EYE = slice(36, 42)  # the eye on the image's left
RIGHT_EYE = slice(42, 48)


@functools.lru_cache(maxsize=1)
def _predictor():
    import dlib

    return dlib.shape_predictor(str(model_path(LANDMARKS_68)))


def to_predictor_box(box: tuple[float, float, float, float], detector: str) -> tuple[float, float, float, float]:
    """Convert a detector's box to the HOG-style square box the 68-point predictor expects."""
    if detector == "hog":
        return box
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    if detector == "cnn":
        # dlib's MMOD boxes are already close to HOG's convention (same training data); just make square.
        side = float(np.sqrt(w * h))
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    else:
        side = SSD_TO_HOG_SIDE * float(np.sqrt(w * h))
        cx, cy = (x0 + x1) / 2 + SSD_TO_HOG_DX * w, (y0 + y1) / 2 + SSD_TO_HOG_DY * h
    return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def predict_landmarks(rgb: np.ndarray, box: tuple[float, float, float, float], *, detector: str = "ssd") -> np.ndarray:
    """68 landmarks ``(68,2) float32`` (x, y in pixels) for the face in ``box`` of an RGB uint8 image."""
    import dlib

    x0, y0, x1, y1 = to_predictor_box(box, detector)
    rect = dlib.rectangle(int(round(x0)), int(round(y0)), int(round(x1)) - 1, int(round(y1)) - 1)
    shape = _predictor()(np.ascontiguousarray(rgb), rect)
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)  # (68,2)


def eye_centres(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the image-left and image-right eyes, each ``(2,)``."""
    return landmarks[LEFT_EYE].mean(axis=0), landmarks[RIGHT_EYE].mean(axis=0)
