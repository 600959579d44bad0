"""Synthetic masks on whole photos (not crops): for tests and benchmarks of detection, landmarks and
``unmask`` on faces whose true mask is known exactly."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from maskaway_cli.faces.align import TEMPLATE_LEFT_EYE, TEMPLATE_RIGHT_EYE, align_face, unalign
from maskaway_cli.faces.landmarks import eye_centres
from maskaway_cli.synth.compose import COVER_ALPHA


@dataclass(frozen=True)
class MaskedPhoto:
    rgb: np.ndarray  # (H,W,3) uint8: the photo with every face wearing a synthetic mask
    binary: np.ndarray  # (H,W) uint8, 255 where a synthetic mask is
    infos: list[dict]  # one per face, as SynthResult.info


def crop_size_for(landmarks: np.ndarray) -> int:
    """The crop side at which the canonical crop keeps the photo's own resolution (16..1024, ×16)."""
    left, right = eye_centres(landmarks)
    iod_fraction = TEMPLATE_RIGHT_EYE[0] - TEMPLATE_LEFT_EYE[0]
    side = float(np.linalg.norm(right - left)) / iod_fraction
    return int(np.clip(round(side / 16) * 16, 64, 1024))


def mask_photo(rgb: np.ndarray, faces_landmarks: list[np.ndarray], synthesizer, rng: np.random.Generator) -> MaskedPhoto:
    """Put a synthetic mask on each face (given by its 68 landmarks in photo pixels) of ``rgb``.

    The mask is synthesized on the canonical crop at the photo's own resolution and warped back; pixels
    the warped mask does not touch are left bit-identical.
    """
    out = rgb.copy()
    binary = np.zeros(rgb.shape[:2], np.uint8)
    infos = []
    for landmarks in faces_landmarks:
        face = align_face(rgb, landmarks, crop_size_for(landmarks))
        result = synthesizer.apply(face.crop, face.landmarks, rng)
        alpha_crop = result.alpha if result.alpha is not None else result.binary
        colour, coverage = unalign(result.masked, face.matrix, rgb.shape[:2])  # (H,W,3), (H,W)
        alpha, _ = unalign(alpha_crop, face.matrix, rgb.shape[:2])  # (H,W) uint8
        a = (alpha.astype(np.float32) / 255.0) * coverage  # (H,W) in [0,1]
        touched = a > 0
        blended = a[..., None] * colour.astype(np.float32) + (1 - a[..., None]) * out.astype(np.float32)
        out[touched] = np.clip(blended[touched] + 0.5, 0, 255).astype(np.uint8)
        binary[a >= COVER_ALPHA / 255.0] = 255
        infos.append(result.info)
    return MaskedPhoto(out, binary, infos)
