"""One random stream per masked face, so that results depend on nothing but the inputs and the seed."""

from __future__ import annotations

import zlib

import numpy as np


def face_rng(seed: int, source: str, face: int, copy: int) -> tuple[np.random.Generator, list[int]]:
    """The random stream of one masked version of one face, and its entropy (stored as the record's
    ``seed``): it depends on nothing but these four values, so results do not depend on order or workers."""
    entropy = [seed, zlib.crc32(source.encode()), face, copy]
    return np.random.default_rng(entropy), entropy
