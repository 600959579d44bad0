"""Every face of a photo, in a stable order, with its 68 landmarks: what ``generate``, ``mask`` and ``unmask``
all start from."""

from __future__ import annotations

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


def find_faces(rgb: np.ndarray, detect) -> tuple[list[FoundFace], int]:
    """Faces of at least the detector's ``min_face`` px with 68 landmarks, left to right (stable indices),
    and how many smaller ones it found (a detector with ``keep_small`` reports them; others find none)."""
    from maskaway_cli.faces.landmarks import predict_landmarks

    config = detect.config
    detections = detect(rgb)
    big = sorted((d for d in detections if d.size >= config.min_face), key=lambda d: (d.box[0], d.box[1]))
    faces = [FoundFace(i, d.box, d.score, predict_landmarks(rgb, d.box, detector=config.kind))
             for i, d in enumerate(big)]
    return faces, len(detections) - len(big)
