"""Per-photo work shared by ``generate`` and ``mask``: find faces, order them, give each its landmarks and
its own random stream."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FoundFace:
    index: int  # position left to right among the faces big enough to use
    box: tuple[float, float, float, float]  # detector box, photo pixels
    score: float
    landmarks: np.ndarray  # (68,2) float32, photo pixels

    def record(self) -> dict:
        """The manifest fields every command writes for a face."""
        return {"face": self.index, "box": [round(v, 2) for v in self.box], "score": round(self.score, 4),
                "landmarks": np.round(self.landmarks, 2).tolist()}


def find_faces(rgb: np.ndarray, detect, *, min_face: int, detector: str) -> tuple[list[FoundFace], int]:
    """Faces of at least ``min_face`` px with 68 landmarks, left to right (stable indices), and how many
    smaller ones were found and left out. ``detect`` must report faces down to 1 px so that a small face
    is told apart from no face."""
    from maskaway_cli.faces.landmarks import predict_landmarks

    detections = detect(rgb)
    big = sorted((d for d in detections if d.size >= min_face), key=lambda d: (d.box[0], d.box[1]))
    faces = [FoundFace(i, d.box, d.score, predict_landmarks(rgb, d.box, detector=detector))
             for i, d in enumerate(big)]
    return faces, len(detections) - len(big)


def face_rng(seed: int, source: str, face: int, copy: int) -> tuple[np.random.Generator, list[int]]:
    """The random stream of one masked version of one face, and its entropy (stored as the record's
    ``seed``): it depends on nothing but these four values, so results do not depend on order or workers."""
    entropy = [seed, zlib.crc32(source.encode()), face, copy]
    return np.random.default_rng(entropy), entropy
