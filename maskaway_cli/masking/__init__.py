"""Synthetic masks on real photos: the cores of ``maskaway generate`` and ``maskaway mask``.

- ``faces.py``: per-photo work shared by both commands (detect, landmarks, one seeded RNG per face).
- ``generate.py`` + ``dataset.py``: aligned masked / original / binary triplets and their manifest.
- ``photos.py`` + ``photo_writer.py``: whole photos wearing masks, their binary masks and manifest.
- ``preview.py``: contact sheets of a generated dataset.

Drawing a mask on one face lives one level down, in ``synth/``; reading inputs in ``data/sources.py``.
"""
