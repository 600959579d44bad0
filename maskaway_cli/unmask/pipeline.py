"""The Unmasker: aligned faces → segment → clean the mask → inpaint → paste back into the photo.

``unmask`` and ``evaluate`` both go through here. Faces from many photos are batched into one model call;
everything about files (finding inputs, workers, saving) lives in the ``unmask`` package.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from maskaway_cli import paths
from maskaway_cli.errors import UsageError, WeightsError

DEFAULT_THRESHOLD, DEFAULT_GROW, DEFAULT_MIN_MASK_FRACTION = 0.5, 0.015, 0.03  # uncalibrated segmenters
UNSURE_BELOW = 0.75  # mean probability inside a painted mask under which the face is reported as unsure
KIND_FILES = {"segmenter": "segmenter.safetensors", "generator": "generator.safetensors",
              "presence": "presence.safetensors"}
RESCUE_THRESHOLD_FACTOR = 1 / 3  # a face the presence model calls masked, but with no mask at the threshold
NO_WEIGHTS_HELP = (
    "no {kind} weights found: train them (maskaway train {cmd} DATASET -o RUN, then --weights RUN) "
    "or fetch them from a registry that lists them (maskaway fetch --registry FILE weights-{short})"
)


# ---- weights ---------------------------------------------------------------------------------------
def resolve_weights(specs: tuple[str, ...], *, need: tuple[str, ...] = ("segmenter", "generator"),
                    optional: tuple[str, ...] = ("presence",)) -> dict[str, Path]:
    """Map each needed kind (and each ``optional`` one there is a file for) to a weights file.

    A spec is a run folder (``RUN/weights.safetensors``), a ``.safetensors`` file, or the stem of a
    file in the user or bundled weights folder. The kind of each file is read from its metadata. Kinds
    no spec provides fall back to the installed ``segmenter``/``generator``/``presence`` (fetched
    before bundled); a missing optional one is simply left out.
    """
    from maskaway_cli.weights_io import read_meta

    found: dict[str, Path] = {}
    for spec in specs:
        path = _spec_path(spec)
        kind = read_meta(path).kind
        if kind in found:
            raise UsageError(f"--weights names two {kind}s: {found[kind]} and {path}")
        found[kind] = path
    for kind in need:
        if kind not in found:
            path = _installed(KIND_FILES[kind])
            if path is None:
                cmd, short = ("seg", "seg") if kind == "segmenter" else ("gan", "gan")
                raise WeightsError(NO_WEIGHTS_HELP.format(kind=kind, cmd=cmd, short=short))
            found[kind] = path
    for kind in optional:
        if kind not in found and (path := _installed(KIND_FILES[kind])) is not None:
            found[kind] = path
    return {k: found[k] for k in (*need, *optional) if k in found}


def _spec_path(spec: str) -> Path:
    path = Path(spec).expanduser()
    if path.is_dir():
        if (path / "weights.safetensors").is_file():
            return path / "weights.safetensors"
        raise WeightsError(f"{path} is a folder without weights.safetensors (export with maskaway train ... --export)")
    if path.is_file():
        return path
    installed = _installed(spec if spec.endswith(".safetensors") else f"{spec}.safetensors")
    if installed is None:
        raise WeightsError(f"--weights {spec}: no such run folder, file or installed weights")
    return installed


def _installed(filename: str) -> Path | None:
    for folder in (paths.user_weights_dir(), paths.bundled_weights_dir()):
        if (folder / filename).is_file():
            return folder / filename
    return None


# ---- models ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FaceOutput:
    mask: np.ndarray  # (S,S) uint8 {0,255}: the cleaned predicted (or given) mask
    result: np.ndarray  # (S,S,3) uint8 RGB: the inpainted face (== input where mask is 0)
    mask_fraction: float  # share of the crop the mask covers
    has_mask: bool  # False: no mask found, face left untouched
    confidence: float = 1.0  # mean probability inside the mask; its peak if empty (1.0 for a given mask)
    presence: float | None = None  # the presence model's P(a mask is worn); None without one (or a given mask)
    worn: bool | None = None  # presence >= the calibrated threshold; None without a presence model

    @property
    def unsure(self) -> bool:
        """A mask was painted, but the segmenter hesitated over much of it: worth a look."""
        return self.has_mask and self.confidence < UNSURE_BELOW


class Unmasker:
    """Runs the two models on batches of aligned faces (uint8 RGB crops at the models' size)."""

    def __init__(self, weights: dict[str, Path], *, device: str = "auto", threshold: float | None = None,
                 min_mask_fraction: float | None = None, min_confidence: float | None = None,
                 min_presence: float | None = None, batch_size: int = 32) -> None:
        import torch

        from maskaway_cli.device import bf16_is_fast, resolve_device
        from maskaway_cli.weights_io import load_model

        self.device = resolve_device(device)
        self.generator, gen_meta = load_model(weights["generator"], kind="generator", device=str(self.device))
        self.segmenter, self.gen_size = None, gen_meta.image_size
        self.seg_size, calibration = self.gen_size, {}
        if "segmenter" in weights:
            self.segmenter, seg_meta = load_model(weights["segmenter"], kind="segmenter", device=str(self.device))
            self.seg_size, calibration = seg_meta.image_size, seg_meta.info.get("calibration", {})
        # What the segmenter was calibrated with on a held-out split (scripts/calibrate_segmenter.py),
        # unless the caller says otherwise.
        threshold = calibration.get("threshold", DEFAULT_THRESHOLD) if threshold is None else threshold
        if not 0.0 < threshold < 1.0:
            raise UsageError(f"--threshold must be between 0 and 1, got {threshold}")
        self.grow = calibration.get("grow", DEFAULT_GROW)
        if min_mask_fraction is None:
            min_mask_fraction = calibration.get("min_mask_fraction", DEFAULT_MIN_MASK_FRACTION)
        # Whether a face wears a mask at all is the presence model's call (trained on real faces) when
        # there is one; its calibrated threshold lets through ~2% of real unmasked faces.
        self.presence, self.min_presence, self.probe = None, 0.0, False
        if "presence" in weights:
            self.presence, pres_meta = load_model(weights["presence"], kind="presence", device=str(self.device))
            presence_calibration = pres_meta.info.get("calibration", {})
            self.probe = self._probe_fits(presence_calibration)
            self.min_presence = presence_calibration.get("threshold", 0.5)
            if self.presence.probe is not None and not self.probe:  # another segmenter: the CNN alone
                self.min_presence = presence_calibration.get("threshold_alone", self.min_presence)
        if min_presence is not None:
            self.min_presence = min_presence
        if not 0.0 <= self.min_presence < 1.0:
            raise UsageError(f"--min-presence must be at least 0 and below 1, got {self.min_presence}")
        # A mask the segmenter is less sure of than of 99% of the masked faces it was calibrated on is
        # not enough on its own: on faces without a mask, what it finds is a beard or a shadow. With a
        # presence model, a face is painted when either is sure: the two fail on different faces (the
        # presence model on small turned heads, the segmenter on real masks unlike its synthetic ones).
        default_confidence = calibration.get("min_confidence", 0.0)
        if self.presence is not None:  # calibrated on real unmasked faces, which fool it more than its own
            default_confidence = calibration.get("min_confidence_with_presence", default_confidence)
        self.min_confidence = default_confidence if min_confidence is None else min_confidence
        if not 0.0 <= self.min_confidence < 1.0:
            raise UsageError(f"--min-confidence must be at least 0 and below 1, got {self.min_confidence}")
        # Faces are aligned at the larger of the two sizes; the other model sees them resized. A 64 px
        # generator then paints at 64 px, and only inside the mask: outside it the crop keeps 128 px.
        self.size = max(self.seg_size, self.gen_size)
        self.weights = weights
        self.threshold, self.min_mask_fraction, self.batch_size = threshold, min_mask_fraction, batch_size
        # bf16 + channels-last where the hardware has native bf16 (CUDA, AVX512-BF16/AMX CPUs): 1.4x+ faster
        # here, and the outputs are 8-bit images anyway.
        self.amp = bf16_is_fast(self.device)
        if self.amp:
            for model in (self.segmenter, self.generator):
                if model is not None:
                    model.to(memory_format=torch.channels_last)

    def __call__(self, crops: list[np.ndarray], masks: list[np.ndarray | None] | None = None, *,
                 probs: np.ndarray | None = None, summary: np.ndarray | None = None) -> list[FaceOutput]:
        """Unmask aligned crops; ``masks`` (optional, per crop, (S,S) uint8, 255 = mask) replace
        segmentation where given; ``probs`` ((N,S,S)) and ``summary`` ((N,F)), optional, are what
        ``segment`` already gave for these crops, so a caller that needs them too runs it once."""
        given = masks or [None] * len(crops)
        need = [i for i, g in enumerate(given) if g is None]
        if need and (probs is None or (self.probe and summary is None)):
            seg_probs, seg_summary = self.segment([crops[i] for i in need])
            probs, summaries = dict(zip(need, seg_probs)), list(seg_summary)
        else:
            probs = {i: probs[i] for i in need}
            summaries = [summary[i] for i in need] if self.probe else None
        presence = dict(zip(need, self.presence_scores([crops[i] for i in need], summaries))) if need else {}
        hard = [self._mask(probs[i], presence.get(i)) if g is None else (g > 127) for i, g in enumerate(given)]
        confidence = [_confidence(probs[i], hard[i]) if i in probs else 1.0 for i in range(len(crops))]
        out: list[FaceOutput] = []
        for start in range(0, len(crops), self.batch_size):
            stop = start + self.batch_size
            out.extend(self._inpaint(crops[start:stop], hard[start:stop], confidence[start:stop],
                                     [presence.get(i) for i in range(start, min(stop, len(crops)))]))
        return out

    def _worn(self, presence: float | None) -> bool | None:
        """The presence model's verdict: a mask is worn (None without a presence model)."""
        return None if presence is None else presence >= self.min_presence

    def _mask(self, probs: np.ndarray, presence: float | None) -> np.ndarray:
        """The cleaned mask; where the presence model is sure of a mask the segmenter barely sees (dark or
        printed real masks it was never shown), the mask is taken at a lower threshold."""
        mask = clean_mask(probs, self.threshold, grow=self.grow)
        if self._worn(presence) and mask.mean() < self.min_mask_fraction:
            mask = clean_mask(probs, self.threshold * RESCUE_THRESHOLD_FACTOR, grow=self.grow)
        return mask

    def _probe_fits(self, calibration: dict) -> bool:
        """Whether the presence model's segmenter probe was fitted on this segmenter's summaries."""
        from maskaway_cli.weights_io import fingerprint

        if self.presence.probe is None or self.segmenter is None:
            return False
        return calibration.get("segmenter") == fingerprint(self.segmenter)

    def presence_scores(self, crops: list[np.ndarray], summaries: list[np.ndarray] | None = None) -> list[float | None]:
        """P(a mask is worn) per aligned crop, or None for each without a presence model. With the probe
        (``self.probe``), ``summaries`` are the segmenter's (F,) summaries of the same crops (``segment``)."""
        import torch

        if self.presence is None or not crops:
            return [None] * len(crops)
        out: list[float] = []
        for start in range(0, len(crops), self.batch_size):
            with torch.inference_mode():
                x = self._tensor(crops[start : start + self.batch_size]).contiguous()  # (b,3,S,S)
                p = self.presence.probability(x)  # (b,)
                if self.probe:
                    h = torch.from_numpy(np.stack(summaries[start : start + self.batch_size])).to(self.device)
                    p = self.presence.combined(p, h)  # (b,)
                out += p.float().cpu().tolist()
        return out

    def probabilities(self, crops: list[np.ndarray]) -> np.ndarray:
        """Segmenter probabilities ``(N,S,S)`` float32 in [0,1] for aligned crops."""
        return self.segment(crops)[0]

    def segment(self, crops: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Segmenter probabilities ``(N,S,S)`` float32 in [0,1] for aligned crops, and the encoder's
        summary of each ``(N,F)`` float32 (what the presence probe reads)."""
        import torch

        if self.segmenter is None:
            raise WeightsError("no segmenter loaded and no mask given for a face")
        side = crops[0].shape[0] if crops else self.size
        chunks, summaries = [], []
        for start in range(0, len(crops), self.batch_size):
            batch = _resized(crops[start : start + self.batch_size], self.seg_size)
            with torch.inference_mode(), self._autocast():
                logits, summary = self.segmenter(self._tensor(batch), pooled=True)  # (b,1,s,s), (b,F)
            probs = torch.sigmoid(logits.float())[:, 0].cpu().numpy()  # (b,s,s)
            chunks.append(np.stack(_resized(list(probs), side)) if self.seg_size != side else probs)
            summaries.append(summary.float().cpu().numpy())
        if not chunks:
            return np.zeros((0, side, side), np.float32), np.zeros((0, self.segmenter.net.pooled_width()), np.float32)
        return np.concatenate(chunks), np.concatenate(summaries)

    def _inpaint(self, crops: list[np.ndarray], masks: list[np.ndarray], confidence: list[float],
                 presence: list[float | None]) -> list[FaceOutput]:
        """Decide per face whether it is painted (a big enough mask, and the segmenter or the presence
        model sure of it), then paint those."""
        outputs = []
        for mask, conf, pres in zip(masks, confidence, presence):
            fraction, worn = float(mask.mean()), self._worn(pres)
            has = fraction >= self.min_mask_fraction and (conf >= self.min_confidence or bool(worn))
            outputs.append(FaceOutput(
                mask=(mask * 255).astype(np.uint8) if has else np.zeros_like(mask, np.uint8),
                result=np.empty(0, np.uint8), mask_fraction=fraction, has_mask=has, confidence=conf,
                presence=pres, worn=worn,
            ))
        # Only the faces that get painted go through the generator; the others keep their crop.
        paint = [i for i, o in enumerate(outputs) if o.has_mask]
        filled = dict(zip(paint, self._generate([crops[i] for i in paint], [masks[i] for i in paint]))) if paint else {}
        return [replace(o, result=filled.get(i, crops[i])) for i, o in enumerate(outputs)]

    def _generate(self, crops: list[np.ndarray], masks: list[np.ndarray]) -> list[np.ndarray]:
        """The generator's result for each crop, pasted into the crop inside its mask (uint8 RGB)."""
        import torch

        from maskaway_cli.models.unet import inpaint

        side = crops[0].shape[0]
        small = _resized(crops, self.gen_size)
        # A pixel the generator's grid sees any of the mask in is a hole at its size: nothing of the mask
        # may reach it as context.
        holes = [m > 0 for m in _resized([m.astype(np.float32) for m in masks], self.gen_size)]
        m = torch.from_numpy(np.stack(holes).astype(np.float32))[:, None].to(self.device)  # (B,1,g,g)
        with torch.inference_mode(), self._autocast():
            filled = inpaint(self.generator, self._tensor(small), m).float()  # (B,3,g,g) in [0,1]
        filled = (filled.permute(0, 2, 3, 1).cpu().numpy() * 255 + 0.5).clip(0, 255).astype(np.uint8)
        if self.gen_size != side:  # painted at the generator's size; the crop keeps its own outside the mask
            return [np.where(mk[..., None], up, crop) for mk, up, crop in zip(masks, _resized(list(filled), side), crops)]
        return list(filled)

    def _tensor(self, crops: list[np.ndarray]):
        """(B,S,S,3) uint8 RGB → (B,3,S,S) float32 in [0,1] on the device (channels-last under bf16)."""
        import torch

        images = torch.from_numpy(np.stack(crops)).to(self.device).permute(0, 3, 1, 2).float() / 255
        return images.contiguous(memory_format=torch.channels_last if self.amp else torch.contiguous_format)

    def _autocast(self):
        import torch

        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)


def _confidence(probs: np.ndarray, mask: np.ndarray) -> float:
    """How sure the segmenter is: the mean probability inside the mask, or, for an empty mask, the
    highest probability anywhere (how close the face came to being painted)."""
    return float(probs[mask].mean()) if mask.any() else float(probs.max())


def _resized(images: list[np.ndarray], side: int) -> list[np.ndarray]:
    """Square images at another side: area averaging down, bilinear up; the same list when no change."""
    import cv2

    if not images or images[0].shape[0] == side:
        return images
    interp = cv2.INTER_AREA if images[0].shape[0] > side else cv2.INTER_LINEAR
    return [cv2.resize(im, (side, side), interpolation=interp) for im in images]


def clean_mask(probs: np.ndarray, threshold: float, *, grow: float = DEFAULT_GROW) -> np.ndarray:
    """Threshold segmenter probabilities ``(S,S)``, keep the big connected parts, and grow the mask by
    ``grow`` of the crop side (1.5% by default) into the pixels the segmenter is unsure about.

    Specks far from the mask (a dark collar, a shadow) are dropped: components under 20% of the largest
    one go. The growth only takes neighbours with probability >= threshold / 2: the soft edge where the
    segmenter hesitates is covered, while confident skin stays context for the generator (a blind
    one-pixel dilation at 64 px costs ~0.5 dB in the mask).
    """
    import cv2

    mask = probs >= threshold
    m = mask.astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    if count <= 1:
        return mask
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = 1 + np.flatnonzero(areas >= 0.2 * areas.max())
    m = np.isin(labels, keep).astype(np.uint8)
    r = max(1, round(mask.shape[0] * grow))
    grown = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))) > 0
    return (m > 0) | (grown & (probs >= threshold / 2))


# ---- photo level -----------------------------------------------------------------------------------
def aligned_faces(rgb: np.ndarray, detect, size: int) -> list:
    """Detect every face of ``rgb`` and align it at ``size``: (``FoundFace``, ``AlignedFace``) pairs."""
    from maskaway_cli.faces.align import align_face
    from maskaway_cli.faces.locate import find_faces

    return [(f, align_face(rgb, f.landmarks, size)) for f in find_faces(rgb, detect)[0]]


def paste_faces(rgb: np.ndarray, matrices: list[np.ndarray], outputs: list[FaceOutput]) -> tuple[np.ndarray, np.ndarray]:
    """Paste every face that had a mask back into ``rgb``; returns the photo and the changed region (H,W) bool."""
    from maskaway_cli.faces.paste import paste_back

    region = np.zeros(rgb.shape[:2], bool)
    for matrix, out in zip(matrices, outputs):
        if out.has_mask:
            pasted = paste_back(rgb, out.result, out.mask, matrix)
            rgb, region = pasted.rgb, region | pasted.region
    return rgb, region


def unmask_photo(rgb: np.ndarray, unmasker: Unmasker, detect) -> tuple[np.ndarray, np.ndarray, list[FaceOutput]]:
    """The whole pipeline on one photo in this process: (result (H,W,3) uint8, changed region, per-face outputs)."""
    return unmask_aligned(rgb, [aligned for _, aligned in aligned_faces(rgb, detect, unmasker.size)], unmasker)


def unmask_aligned(rgb: np.ndarray, faces: list, unmasker: Unmasker) -> tuple[np.ndarray, np.ndarray, list[FaceOutput]]:
    """:func:`unmask_photo` for faces already found and aligned (``AlignedFace``, at ``unmasker.size``)."""
    outputs = unmasker([f.crop for f in faces]) if faces else []
    result, region = paste_faces(rgb, [f.matrix for f in faces], outputs)
    return result, region, outputs
