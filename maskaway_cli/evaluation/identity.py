"""Does the unmasked face still look like the person? dlib's face-recognition ResNet (the 128-d
descriptor that ``face-recognition-models`` ships) identifies each output among the original photos.

A face counts as matched when its nearest original is the same person and nearer than dlib's
same-person threshold (0.6). Photos whose names differ only in a trailing number (``lisa1``, ``lisa2``,
``zoom_15cm``) are one person; any other name is a person of its own.
"""

from __future__ import annotations

import functools
import re

import numpy as np

SAME_PERSON = 0.6  # dlib's documented threshold on the descriptor distance
_TRAILING_NUMBER = re.compile(r"[_-]?\d+[a-z]{0,2}$")


def person_of(stem: str) -> str:
    """The person a photo shows, from its file name (see the module docstring)."""
    return _TRAILING_NUMBER.sub("", stem) or stem


@functools.lru_cache(maxsize=1)
def _resnet():
    import dlib

    from maskaway_cli.faces.models import FACE_RESNET, model_path

    return dlib.face_recognition_model_v1(str(model_path(FACE_RESNET)))


def descriptor(rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """(128,) float32 descriptor of the face in ``box`` (a detector box) of an RGB uint8 image; the
    landmarks it aligns with are found on this image, as a recogniser would."""
    from maskaway_cli.faces.landmarks import dlib_shape

    img = np.ascontiguousarray(rgb)
    return np.asarray(_resnet().compute_face_descriptor(img, dlib_shape(img, box)), dtype=np.float32)


def matches(probes: list[tuple[str, np.ndarray]], gallery: list[tuple[str, np.ndarray]]) -> list[bool]:
    """For each (person, descriptor) probe: is its nearest gallery face that person, within the threshold?"""
    people = [p for p, _ in gallery]
    g = np.stack([d for _, d in gallery])  # (G,128)
    out = []
    for person, d in probes:
        dist = np.linalg.norm(g - d, axis=1)  # (G,)
        best = int(np.argmin(dist))
        out.append(people[best] == person and float(dist[best]) < SAME_PERSON)
    return out
