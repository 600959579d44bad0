"""Photo degradations for training crops: what web photos of masked people look like, not clean crops.

Applied to the whole aligned crop after masking, with the same draw for the masked face and its original,
so a pair stays a pair: JPEG at quality 20-95, blur, sensor noise, low light, colour casts and down-and-up
scaling. Each is drawn independently, so most degraded crops carry two or three of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OPS = ("rescale", "blur", "low_light", "cast", "noise", "jpeg")  # applied in this order, as a camera would


@dataclass(frozen=True)
class Degradation:
    """One draw of degradations; ``apply`` gives every image of a pair the same treatment."""

    rescale: float | None = None  # down-and-up factor (0.15..0.8)
    blur: float | None = None  # Gaussian sigma, in pixels of a 128 px crop
    low_light: tuple[float, float] | None = None  # (gain, gamma)
    cast: tuple[float, float, float] | None = None  # per-channel RGB gains
    noise: float | None = None  # std in 0..255 levels
    noise_seed: int = 0
    jpeg: int | None = None  # quality

    def info(self) -> dict:
        """What was applied, JSON-able, for the manifest."""
        out = {}
        for name in OPS:
            value = getattr(self, name)
            if value is not None:
                out[name] = [round(v, 3) for v in value] if isinstance(value, tuple) else round(value, 3)
        return out

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        """(S,S,3) uint8 RGB → the same, degraded."""
        import cv2

        img = rgb.astype(np.float32)  # (S,S,3) in 0..255
        side = img.shape[0]
        if self.rescale is not None:
            small = max(8, round(side * self.rescale))
            img = cv2.resize(cv2.resize(img, (small, small), interpolation=cv2.INTER_AREA), (side, side),
                             interpolation=cv2.INTER_LINEAR)
        if self.blur is not None:
            img = cv2.GaussianBlur(img, (0, 0), self.blur * side / 128)
        if self.low_light is not None:
            gain, gamma = self.low_light
            img = 255.0 * gain * (img / 255.0) ** gamma
        if self.cast is not None:
            img = img * np.array(self.cast, np.float32)
        if self.noise is not None:
            img = img + np.random.default_rng(self.noise_seed).normal(0, self.noise, img.shape).astype(np.float32)
        out = np.clip(img + 0.5, 0, 255).astype(np.uint8)
        if self.jpeg is not None:
            ok, data = cv2.imencode(".jpg", np.ascontiguousarray(out[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, self.jpeg])
            out = cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1].copy()
        return out


def draw(rng: np.random.Generator) -> Degradation:
    """A random degradation: each kind with its own probability, JPEG the most common (web photos)."""
    def maybe(p: float) -> bool:
        return bool(rng.random() < p)

    return Degradation(
        # down to 0.15: a 128 px crop of a 20-40 px face in a street photo has that little detail
        rescale=float(rng.uniform(0.15, 0.8)) if maybe(0.35) else None,
        blur=float(rng.uniform(0.5, 1.6)) if maybe(0.3) else None,
        low_light=(float(rng.uniform(0.45, 0.85)), float(rng.uniform(1.1, 1.8))) if maybe(0.25) else None,
        cast=tuple(float(g) for g in rng.uniform(0.85, 1.15, 3)) if maybe(0.3) else None,
        noise=float(rng.uniform(2, 10)) if maybe(0.3) else None,
        noise_seed=int(rng.integers(2**31)),
        jpeg=int(rng.integers(20, 96)) if maybe(0.7) else None,
    )


def cover(binary: np.ndarray, masked: np.ndarray, original: np.ndarray) -> np.ndarray:
    """The binary mask grown over what blur and scaling spread of the mask: every pixel where the degraded
    masked face differs from the degraded original by more than ``COVER_ALPHA`` levels, as before
    degradation (a pixel left outside moves at most 16 levels towards the mask)."""
    from maskaway_cli.synth.compose import COVER_ALPHA

    spread = np.abs(masked.astype(np.int16) - original.astype(np.int16)).max(axis=2) > COVER_ALPHA  # (S,S)
    return np.where(spread | (binary > 0), 255, 0).astype(np.uint8)
