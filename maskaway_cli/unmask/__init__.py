"""``maskaway unmask``: whole photos in, unmasked photos out.

- ``plan.py``: inputs (files, folders, stdin) → (input, output) jobs; output naming and collisions.
- ``stages.py``: work done in worker processes: stage A (load, detect, align → crops) and stage B (paste
  back, encode, write atomically).
- ``pipeline.py``: the Unmasker (weights → models; segment → inpaint) and photo-level helpers.
- ``run.py``: the main loop: batches faces from many photos into one model call (the GPU, when there is
  one), keeps at most a window of photos in flight so memory stays flat, and sums up.
"""

from maskaway_cli.unmask.plan import UnmaskConfig
from maskaway_cli.unmask.run import UnmaskSummary, unmask

__all__ = ["UnmaskConfig", "UnmaskSummary", "unmask"]
