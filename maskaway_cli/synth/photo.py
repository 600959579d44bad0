"""Synthetic masks on whole photos (not crops): the core of ``maskaway mask``, and the masked photos with a
known true mask that tests, benchmarks and ``evaluate --photos`` use."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from maskaway_cli.errors import FaceError
from maskaway_cli.synth.compose import MaskChoice


@dataclass(frozen=True)
class MaskedPhoto:
    rgb: np.ndarray  # (H,W,3) uint8: the photo with every face wearing a synthetic mask
    binary: np.ndarray  # (H,W) uint8, 255 where a synthetic mask is
    infos: list[dict]  # one per face: SynthResult.info, or {"skipped": reason} for a face left bare


def mask_photo(rgb: np.ndarray, faces_landmarks: Sequence[np.ndarray], synthesizer,
               rng: np.random.Generator | Sequence[np.random.Generator], *,
               choices: Sequence[MaskChoice | None] | None = None) -> MaskedPhoto:
    """Put a synthetic mask on each face (given by its 68 landmarks in photo pixels) of ``rgb``.

    The template is warped straight onto the photo at its own resolution (one resampling of the mask, none
    of the face); pixels the mask does not touch stay bit-identical. ``rng`` is one generator shared by
    all faces or one per face (then a face's mask depends on nothing else); ``choices`` fixes a mask per
    face (``--types all``, ``--code``). A face that cannot carry a mask (degenerate landmarks, a mask
    that falls outside the photo) is left as it is and said so in ``infos``.
    """
    rngs = list(rng) if isinstance(rng, Sequence) else [rng] * len(faces_landmarks)
    choices = list(choices) if choices is not None else [None] * len(faces_landmarks)
    out = rgb
    binary = np.zeros(rgb.shape[:2], np.uint8)  # (H,W)
    infos: list[dict] = []
    for landmarks, face_rng, choice in zip(faces_landmarks, rngs, choices):
        try:
            result = synthesizer.apply(out, landmarks, face_rng, choice=choice)
        except FaceError as exc:
            infos.append({"skipped": str(exc)})
            continue
        if not result.binary.any():
            infos.append({"skipped": "the mask falls outside the photo"})
            continue
        out = result.masked
        np.maximum(binary, result.binary, out=binary)
        infos.append(result.info)
    return MaskedPhoto(out if out is not rgb else rgb.copy(), binary, infos)
