"""68-point landmarks (iBUG 300-W numbering) with dlib's shape predictor from face-recognition-models.

The predictor was trained on boxes from dlib's HOG detector, which are square and sit a little higher and
tighter than RetinaFace's or the SSD's. Boxes from other detectors are converted to that convention first:
fed an SSD box as is, the predictor slides the jaw and eyes. Each conversion was fitted on ~550 unmasked
faces (UTKFace + fixtures) where both detectors fire (see ``benchmarks/calibrate_boxes.py``).
"""

from __future__ import annotations

import functools

import numpy as np

from maskaway_cli.faces.models import LANDMARKS_68, model_path

# Per detector: median offsets of the HOG box centre from the detector's box centre, in box widths and
# heights, and the HOG side as a fraction of sqrt(width * height) (benchmarks/calibrate_boxes.py).
BOX_TO_HOG = {"retina": (-0.029, -0.041, 0.91), "ssd": (-0.043, -0.039, 0.96)}

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
        dx, dy, k = BOX_TO_HOG[detector]
        side = k * float(np.sqrt(w * h))
        cx, cy = (x0 + x1) / 2 + dx * w, (y0 + y1) / 2 + dy * h
    return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def dlib_shape(rgb: np.ndarray, box: tuple[float, float, float, float], *, detector: str = "retina"):
    """dlib's 68-point ``full_object_detection`` for the face in ``box`` of a contiguous RGB uint8 image
    (what dlib's face recogniser aligns with)."""
    import dlib

    x0, y0, x1, y1 = to_predictor_box(box, detector)
    rect = dlib.rectangle(int(round(x0)), int(round(y0)), int(round(x1)) - 1, int(round(y1)) - 1)
    return _predictor()(rgb, rect)


def predict_landmarks(rgb: np.ndarray, box: tuple[float, float, float, float], *, detector: str = "retina") -> np.ndarray:
    """68 landmarks ``(68,2) float32`` (x, y in pixels) for the face in ``box`` of an RGB uint8 image."""
    shape = dlib_shape(np.ascontiguousarray(rgb), box, detector=detector)
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)  # (68,2)


def eye_centres(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the image-left and image-right eyes, each ``(2,)``."""
    return landmarks[LEFT_EYE].mean(axis=0), landmarks[RIGHT_EYE].mean(axis=0)
