"""The whole pipeline on full photos: real unmasked photos get synthetic masks (fixed seed), go through
detection, alignment, segmentation, inpainting and paste-back, and are compared with the originals.

Baselines on the same masked photos: the masked photo itself, and Telea inpainting of the true mask.
``ceiling_true_face`` is the other end: each painted face replaced, inside the pipeline's own mask, by
the true face aligned as the generator sees it (at its size), then pasted back by the same code. It is
what a perfect generator of that size would score: how far the model is from its size's limit, and how
far that limit is from the goal.
In-mask numbers use the true (synthetic) mask warped into the photo. The sharpness ratio compares the
painted region with the true face at half size; ``identity`` is the share of faces that dlib's face
recogniser still matches to the right person among the original photos (``evaluation.identity``).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from maskaway_cli.errors import MaskAwayError, UsageError
from maskaway_cli.evaluation.measure import image_metrics, telea
from maskaway_cli.evaluation.tally import MeanTally
from maskaway_cli.progress import Reporter, null_reporter

PHOTO_METHODS = ("pipeline", "ceiling_true_face", "baseline_masked_input", "baseline_telea")
SHARPNESS_SCALE = 0.5  # photos are compared for sharpness at half size (issue 13's measure)


@dataclass
class PhotoResults:
    images: MeanTally = field(default_factory=MeanTally)
    photos: Counter = field(default_factory=Counter)  # mask type -> photos measured
    faces_masked: int = 0  # faces that got a synthetic mask
    faces_found: int = 0  # faces the pipeline found on the masked photos
    masks_removed: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    # per masked face: (mask type, person, {"original" | method: descriptor}) for the identity score
    faces: list[tuple[str, str, dict[str, np.ndarray]]] = field(default_factory=list)


def list_photos(folder: Path) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name."""
    from maskaway_cli.data.sources import IMAGE_SUFFIXES

    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"--photos {folder}: not a folder")
    found = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not found:
        raise UsageError(f"--photos {folder}: no image files in it")
    return found


def measure_photos(files: list[Path], unmasker, *, seed: int = 0, reporter: Reporter = null_reporter) -> PhotoResults:
    """Mask, unmask and measure each photo; a photo without a detected face is skipped with a note."""
    from maskaway_cli.faces.detect import DetectorConfig, make_detector
    from maskaway_cli.synth.compose import MaskSynthesizer, SynthOptions

    detect, synth = make_detector(DetectorConfig()), MaskSynthesizer(SynthOptions())
    res = PhotoResults()
    start = time.perf_counter()
    reporter("begin", task="photos", total=len(files), unit="img", description="Photos")
    for number, path in enumerate(files):
        try:
            _one(path, np.random.default_rng([seed, number]), unmasker, detect, synth, res)
        except MaskAwayError as exc:
            res.skipped.append((path.name, str(exc).splitlines()[0]))
            reporter("note", text=f"skipped photo {path.name}: {res.skipped[-1][1]}")
        reporter("advance", task="photos", n=1)
    reporter("end", task="photos")
    _identity(res)
    res.seconds = time.perf_counter() - start
    return res


def _identity(res: PhotoResults) -> None:
    """Each method's faces identified among the originals of every measured photo."""
    from maskaway_cli.evaluation.identity import matches

    if not res.faces:
        return
    gallery = [(person, d["original"]) for _, person, d in res.faces]
    groups = [group for group, _, _ in res.faces]
    for method in PHOTO_METHODS:
        hits = matches([(person, d[method]) for _, person, d in res.faces], gallery)
        res.images.add(groups, method, "identity", [float(h) for h in hits])


def _one(path: Path, rng: np.random.Generator, unmasker, detect, synth, res: PhotoResults) -> None:
    from maskaway_cli.evaluation.identity import descriptor, person_of
    from maskaway_cli.faces.landmarks import predict_landmarks
    from maskaway_cli.imageio import load_rgb
    from maskaway_cli.synth.photo import mask_photo
    from maskaway_cli.unmask.pipeline import aligned_faces, unmask_aligned

    original = load_rgb(path)  # (H,W,3) uint8 RGB
    found = detect(original)
    faces = [predict_landmarks(original, d.box) for d in found]
    if not faces:
        raise MaskAwayError("no face found to put a mask on")
    masked = mask_photo(original, faces, synth, rng)
    pairs = aligned_faces(masked.rgb, detect, unmasker.size)  # what unmask_photo does, kept for the ceiling
    result, _, outputs = unmask_aligned(masked.rgb, [a for _, a in pairs], unmasker)
    truth = masked.binary > 0  # (H,W) bool
    types = {str(i.get("mask_type", "unknown")) for i in masked.infos}
    group = types.pop() if len(types) == 1 else "mixed"
    runs = {"pipeline": result, "ceiling_true_face": true_face_ceiling(original, masked.rgb, pairs, outputs,
                                                                      gen_size=unmasker.gen_size),
            "baseline_masked_input": masked.rgb, "baseline_telea": telea(masked.rgb, truth)}
    for method in PHOTO_METHODS:
        for metric, values in image_metrics(runs[method][None], original[None], truth[None],
                                            sharpness_scale=SHARPNESS_SCALE).items():
            res.images.add([group], method, metric, values)
    res.photos[group] += 1
    person = person_of(path.stem)
    for d in found:
        res.faces.append((group, person, {k: descriptor(img, d.box) for k, img in
                                          {"original": original, **runs}.items()}))
    res.faces_masked += len(faces)
    res.faces_found += len(outputs)
    res.masks_removed += sum(o.has_mask for o in outputs)


def true_face_ceiling(original: np.ndarray, masked: np.ndarray, pairs: list, outputs: list, *,
                      gen_size: int) -> np.ndarray:
    """``masked`` with every face the pipeline painted (``outputs`` for the found and aligned ``pairs``)
    replaced inside its mask by the true face, aligned with the same landmarks and brought to the
    generator's size and back, pasted back by ``paste_faces``."""
    from dataclasses import replace

    from maskaway_cli.faces.align import align_face
    from maskaway_cli.unmask.pipeline import _resized, paste_faces

    faked = []
    for (found, aligned), out in zip(pairs, outputs):
        size = aligned.crop.shape[0]
        true = align_face(original, found.landmarks, size).crop  # (S,S,3): the same matrix, true pixels
        if gen_size != size:  # what the generator's grid can hold
            true = _resized(_resized([true], gen_size), size)[0]
        faked.append(replace(out, result=np.where(out.mask[..., None] > 0, true, aligned.crop)))
    return paste_faces(masked, [a.matrix for _, a in pairs], faked)[0]
