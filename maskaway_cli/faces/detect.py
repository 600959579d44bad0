"""Face detection that works on faces wearing masks.

The default is RetinaFace (MobileNet-0.25, ``retina.py``): measured single-threaded on real photos
(docs/faces.md) it is 6-10x faster than the SSD and finds far more masked faces in whole photos. OpenCV's
ResNet-10 SSD (``res10_300x300_ssd_iter_140000``), dlib's HOG and dlib's CNN (MMOD) stay available as
options. All detectors take an RGB uint8 image and return boxes in that image's full-resolution pixel
coordinates.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from maskaway_cli.errors import UsageError
from maskaway_cli.faces.models import DLIB_CNN, SSD_MODEL, SSD_PROTOTXT, model_path

DetectorKind = Literal["retina", "ssd", "hog", "cnn"]
DETECTORS: tuple[str, ...] = ("retina", "ssd", "hog", "cnn")
DEFAULT_CONFIDENCE = {"retina": 0.7, "ssd": 0.4, "hog": 0.0, "cnn": 0.0}  # per detector; see docs/faces.md

SSD_SIZE = 300  # the resolution the SSD was trained at; smaller images run at their own size
SSD_MEAN = (104.0, 177.0, 123.0)  # BGR means the Caffe model was trained with
SSD_RETRY_PAD = 0.25  # border added for the second pass: SSD misses faces that fill the whole frame


@dataclass(frozen=True)
class DetectorConfig:
    kind: str = "retina"
    confidence: float | None = None  # score threshold; None: the detector's own default
    min_face: int = 20  # smallest face looked for (and accepted), in full-resolution pixels
    keep_small: bool = False  # also return smaller faces found on the way, so callers can report them

    def __post_init__(self) -> None:
        if self.kind not in DETECTORS:
            raise UsageError(f"unknown detector '{self.kind}' (choose from {', '.join(DETECTORS)})")
        if self.confidence is not None and self.kind in ("retina", "ssd") and not 0.0 < self.confidence < 1.0:
            raise UsageError(f"--confidence must be between 0 and 1, got {self.confidence}")
        if self.min_face < 1:
            raise UsageError(f"--min-face must be at least 1 pixel, got {self.min_face}")

    @property
    def threshold(self) -> float:
        return DEFAULT_CONFIDENCE[self.kind] if self.confidence is None else self.confidence


@dataclass(frozen=True)
class Detection:
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in full-resolution pixels
    score: float
    points: tuple[tuple[float, float], ...] | None = None  # RetinaFace's 5 points (eyes, nose, mouth corners)

    @property
    def size(self) -> float:
        return min(self.box[2] - self.box[0], self.box[3] - self.box[1])


class Detector(Protocol):
    def __call__(self, rgb: np.ndarray) -> list[Detection]: ...


def make_detector(config: DetectorConfig) -> Detector:
    """Build (or reuse, per process) the detector ``config`` names."""
    return _cached_detector(config)


@functools.lru_cache(maxsize=4)
def _cached_detector(config: DetectorConfig) -> Detector:
    factory = {"retina": RetinaDetector, "ssd": SSDDetector, "hog": DlibHOGDetector, "cnn": DlibCNNDetector}[config.kind]
    return factory(config)


class RetinaDetector:
    """RetinaFace in one or two passes (coarse for big faces, fine for small ones), merged (``retina.py``)."""

    def __init__(self, config: DetectorConfig) -> None:
        from maskaway_cli.faces import retina

        self.config = config
        retina.session()  # load the network now, not on the first photo

    def __call__(self, rgb: np.ndarray) -> list[Detection]:
        from maskaway_cli.faces import retina

        h, w = rgb.shape[:2]
        sides = retina.pass_sides(h, w, self.config.min_face)
        if self.config.confidence is None and len(sides) > 1:
            # Faces that two passes agree on are kept at a lower score: a real small face scores 0.5-0.7 at
            # more than one scale, a false one rarely does (maskdet, faces >= 24 px: +0.7% of masked faces).
            found = [self._passes(rgb, [side], retina.AGREE_THRESHOLD) for side in sides]
            dets = agreed(found, self.config.threshold)
        else:
            dets = self._passes(rgb, sides, self.config.threshold)
        if not dets and self.config.confidence is None:
            # Nothing at all: look once more, mirrored and a little less strictly. A photo with no face
            # is rare in this tool's inputs, so this costs little; on the real masked crops of realmask
            # it finds 15 of the 85 faces the first look missed (90.4% -> 92.1%).
            mirrored = np.ascontiguousarray(rgb[:, ::-1])
            flipped = self._passes(mirrored, retina.RESCUE_SIDES, retina.RESCUE_THRESHOLD)
            dets = [_unmirror(d, w) for d in flipped]
        if not dets and self.config.confidence is None:
            # Still nothing: a face that fills the frame, its chin or brow cut off, is not a face to a
            # network trained on faces with a context around them. Framed in a plain border it often is
            # (realmask's tight crops: 92.1% -> 92.8% found).
            dets = self._framed(rgb)
        return _finish(dets, rgb.shape, self.config)

    def _framed(self, rgb: np.ndarray) -> list[Detection]:
        import cv2

        from maskaway_cli.faces import retina

        pad = max(1, round(retina.RESCUE_PAD * max(rgb.shape[:2])))
        fill = tuple(float(v) for v in retina.MEAN_BGR[::-1])  # RGB: the network's zero input
        framed = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=fill)
        return [_moved(d, -pad, -pad) for d in self._passes(framed, retina.RESCUE_SIDES, retina.RESCUE_THRESHOLD)]

    @staticmethod
    def _passes(rgb: np.ndarray, sides, threshold: float) -> list[Detection]:
        from maskaway_cli.faces import retina

        dets = []
        for side in sides:
            boxes, scores, points = retina.detect(rgb, side=side, threshold=threshold)
            dets += [Detection(tuple(float(v) for v in b), float(s), tuple(map(tuple, p.tolist())))
                     for b, s, p in zip(boxes, scores, points)]
        return dets


def agreed(passes: list[list[Detection]], threshold: float, *, iou: float = 0.5) -> list[Detection]:
    """Detections of several passes: those scoring ``threshold`` or more, and those under it that another
    pass also found (IoU >= ``iou``). Duplicates are left for the caller's suppression."""
    out = []
    for i, dets in enumerate(passes):
        others = [d for j, p in enumerate(passes) if j != i for d in p]
        out += [d for d in dets if d.score >= threshold or any(box_iou(d.box, o.box) >= iou for o in others)]
    return out


def _moved(det: Detection, dx: float, dy: float) -> Detection:
    """A detection shifted by ``(dx, dy)`` pixels, box and points."""
    x0, y0, x1, y1 = det.box
    points = None if det.points is None else tuple((x + dx, y + dy) for x, y in det.points)
    return Detection((x0 + dx, y0 + dy, x1 + dx, y1 + dy), det.score, points)


def _unmirror(det: Detection, width: int) -> Detection:
    """A detection on the left-right mirrored image, in the original's pixels (points keep their order)."""
    x0, y0, x1, y1 = det.box
    points = None if det.points is None else tuple((width - 1 - x, y) for x, y in det.points)
    return Detection((width - x1, y0, width - x0, y1), det.score, points)


class SSDDetector:
    """ResNet-10 SSD run by OpenCV's dnn module, with a padded second pass when the first finds nothing."""

    def __init__(self, config: DetectorConfig) -> None:
        import cv2

        self.config = config
        self.net = cv2.dnn.readNetFromCaffe(str(model_path(SSD_PROTOTXT)), str(model_path(SSD_MODEL)))

    def __call__(self, rgb: np.ndarray) -> list[Detection]:
        found = self._pass(rgb, pad=0.0)
        if not found:
            found = self._pass(rgb, pad=SSD_RETRY_PAD)
        return _finish(found, rgb.shape, self.config)

    def _pass(self, rgb: np.ndarray, *, pad: float) -> list[Detection]:
        import cv2

        h, w = rgb.shape[:2]
        p = int(round(pad * max(h, w)))
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])  # (H,W,3) BGR, the model's channel order
        if p:
            bgr = cv2.copyMakeBorder(bgr, p, p, p, p, cv2.BORDER_CONSTANT, value=SSD_MEAN)
        ph, pw = bgr.shape[:2]
        # Never upsample: small crops run at their own resolution, which is both faster and as accurate.
        side = min(SSD_SIZE, max(ph, pw))
        small = cv2.resize(bgr, (side, side), interpolation=cv2.INTER_AREA)
        self.net.setInput(cv2.dnn.blobFromImage(small, 1.0, (side, side), SSD_MEAN))
        out = self.net.forward()[0, 0]  # (N,7): image id, class, score, x0, y0, x1, y1 (relative)
        dets = []
        for score, x0, y0, x1, y1 in out[out[:, 2] >= self.config.threshold][:, 2:7]:
            box = (x0 * pw - p, y0 * ph - p, x1 * pw - p, y1 * ph - p)
            dets.append(Detection(tuple(float(v) for v in box), float(score)))
        return dets


class DlibHOGDetector:
    """dlib's HOG + linear SVM frontal detector (fast, but misses most masked faces)."""

    def __init__(self, config: DetectorConfig) -> None:
        import dlib

        self.config = config
        self.detector = dlib.get_frontal_face_detector()

    def __call__(self, rgb: np.ndarray) -> list[Detection]:
        small, scale = _downscale(rgb, 1000)
        upsample = 1 if max(small.shape[:2]) < 400 else 0
        rects, scores, _ = self.detector.run(small, upsample, 0.0)
        dets = [Detection(_rect_box(r, scale), float(s)) for r, s in zip(rects, scores)]
        return _finish(dets, rgb.shape, self.config)


class DlibCNNDetector:
    """dlib's MMOD CNN detector (accurate on unmasked faces, slow on a CPU)."""

    def __init__(self, config: DetectorConfig) -> None:
        import dlib

        self.config = config
        self.detector = dlib.cnn_face_detection_model_v1(str(model_path(DLIB_CNN)))

    def __call__(self, rgb: np.ndarray) -> list[Detection]:
        small, scale = _downscale(rgb, 800)
        upsample = 1 if max(small.shape[:2]) < 400 else 0
        found = self.detector(small, upsample)
        dets = [Detection(_rect_box(d.rect, scale), float(d.confidence)) for d in found]
        return _finish(dets, rgb.shape, self.config)


def _downscale(rgb: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Shrink big photos before dlib detection; returns the image and full-res pixels per small pixel."""
    import cv2

    h, w = rgb.shape[:2]
    if max(h, w) <= max_side:
        return np.ascontiguousarray(rgb), 1.0
    scale = max(h, w) / max_side
    size = (max(1, round(w / scale)), max(1, round(h / scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), scale


def _rect_box(rect, scale: float) -> tuple[float, float, float, float]:
    # dlib rectangles are inclusive of their right/bottom pixel.
    return (rect.left() * scale, rect.top() * scale, (rect.right() + 1) * scale, (rect.bottom() + 1) * scale)


def _finish(dets: list[Detection], shape: tuple[int, ...], config: DetectorConfig) -> list[Detection]:
    """Clip to the image, drop small boxes (or, with ``keep_small``, list them after the others unless they
    lie on a bigger face), suppress duplicates, order by score."""
    h, w = shape[:2]
    clipped = []
    for d in dets:
        x0, y0, x1, y1 = d.box
        box = (max(0.0, x0), max(0.0, y0), min(float(w), x1), min(float(h), y1))
        clipped.append(Detection(box, d.score, d.points))
    kept = suppress_duplicates([d for d in clipped if d.size >= config.min_face])
    if config.keep_small:
        small = [d for d in clipped if 0 < d.size < config.min_face]
        kept += suppress_duplicates([d for d in small if all(_overlap_min(d.box, k.box) < 0.5 for k in kept)])
    return kept


def suppress_duplicates(dets: list[Detection], *, overlap: float = 0.5) -> list[Detection]:
    """Greedy NMS on intersection over the smaller box: the SSD often returns a face twice, nested."""
    kept: list[Detection] = []
    for det in sorted(dets, key=lambda d: -d.score):
        if all(_overlap_min(det.box, k.box) < overlap for k in kept):
            kept.append(det)
    return kept


def _overlap_min(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return iw * ih / smaller if smaller > 0 else 0.0


def box_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two x0, y0, x1, y1 boxes (0 when they do not touch)."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - iw * ih
    return iw * ih / union if union > 0 else 0.0
