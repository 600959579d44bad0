"""Mask synthesis, MaskTheFace-style: anchors from landmarks, mask templates (drawn or MaskTheFace's),
colours and textures, and compositing that returns the masked face with its exact binary mask.

Pure numpy + OpenCV + Pillow (no torch). Typical use::

    from maskaway_cli.synth import MaskSynthesizer, SynthOptions
    synth = MaskSynthesizer(SynthOptions(types=("surgical", "N95")))
    result = synth.apply(face, landmarks, np.random.default_rng(seed))  # result.masked, result.binary
"""

from __future__ import annotations

from maskaway_cli.synth.anchors import head_turn, mean_face_landmarks, six_anchors, turn_variant
from maskaway_cli.synth.compose import MaskSynthesizer, SynthOptions, SynthResult
from maskaway_cli.synth.templates import MaskTemplate, TemplateSet, builtin_templates, load_masktheface

__all__ = [
    "MaskSynthesizer",
    "MaskTemplate",
    "SynthOptions",
    "SynthResult",
    "TemplateSet",
    "builtin_templates",
    "head_turn",
    "load_masktheface",
    "mean_face_landmarks",
    "six_anchors",
    "turn_variant",
]
