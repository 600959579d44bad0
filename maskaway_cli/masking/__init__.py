"""Synthetic masks on real photos: the cores of ``maskaway generate`` and ``maskaway mask``.

- ``streams.py``: one seeded random stream per masked face, shared by both commands.
- ``workers.py``: per-photo work in worker processes, results in input order, shared by both.
- ``generate.py`` + ``dataset.py``: aligned masked / original / binary triplets and their manifest.
- ``photos.py`` + ``photo_writer.py``: whole photos wearing masks, their binary masks and manifest.
- ``preview.py``: contact sheets of a generated dataset.

Finding faces lives one level down, in ``faces/locate.py``; drawing a mask on a face in ``synth/``;
reading inputs in ``data/sources.py``.
"""
