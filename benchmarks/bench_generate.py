"""Measured targets of ``maskaway generate`` (issue 2). Prints each figure with its target.

1. Masked faces found by the default detector on shared/faces/realmask (883 real masked crops): >= 90%.
2. Faces found on shared/faces/utkface (200x200 crops): >= 95% of images (``--utk`` of them, default 3000).
3. Whole-command throughput on this machine, all outputs written, 64 px, ``--workers`` processes:
   >= 100 faces/s on UTKFace crops, >= 8 photos/s on the 1350x1350 fixtures (copied 5 times into a temp
   folder so process start-up does not dominate).
4. Eye-centre accuracy under a synthetic mask: median error of the eye centres on a masked fixture against
   the same fixture unmasked, in % of the inter-ocular distance: < 5%.

    python benchmarks/bench_generate.py [--shared ../shared] [--utk 3000] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def detection_rate(photos: list[Path]) -> tuple[float, float]:
    """Share of photos with at least one face, and ms per photo (one thread)."""
    import cv2

    from maskaway_cli.faces.detect import DetectorConfig, make_detector
    from maskaway_cli.imageio import load_rgb

    cv2.setNumThreads(1)
    detect = make_detector(DetectorConfig())
    images = [load_rgb(p) for p in photos]
    start = time.perf_counter()
    found = sum(bool(detect(im)) for im in images)
    return found / len(images), (time.perf_counter() - start) / len(images) * 1000


def run_generate(sources: list[Path], workers: int) -> dict:
    """Time the whole CLI command; returns its JSON summary plus wall time."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ds"
        cmd = [sys.executable, "-m", "maskaway_cli", "generate", *map(str, sources), "-o", str(out),
               "--workers", str(workers), "--json"]
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if proc.returncode not in (0, 3):
            raise SystemExit(f"generate failed ({proc.returncode}): {proc.stderr[-2000:]}")
        summary = json.loads(proc.stdout)
    summary["wall"] = wall
    return summary


def eye_error_under_mask(fixtures: Path) -> float:
    """Median eye-centre error (% of IOD) of landmarks on masked fixtures vs the same faces unmasked."""
    from maskaway_cli.faces.detect import DetectorConfig, make_detector
    from maskaway_cli.faces.landmarks import eye_centres, predict_landmarks
    from maskaway_cli.imageio import load_rgb
    from maskaway_cli.synth.compose import MaskSynthesizer, SynthOptions
    from maskaway_cli.synth.photo import mask_photo

    detect = make_detector(DetectorConfig())
    synth = MaskSynthesizer(SynthOptions())
    errors = []
    for i, path in enumerate(sorted(fixtures.glob("*.jpg"))):
        rgb = load_rgb(path)
        lm = predict_landmarks(rgb, max(detect(rgb), key=lambda d: d.size).box)
        masked = mask_photo(rgb, [lm], synth, np.random.default_rng(i)).rgb
        dets = detect(masked)
        if not dets:
            continue
        lm2 = predict_landmarks(masked, max(dets, key=lambda d: d.size).box)
        (l1, r1), (l2, r2) = eye_centres(lm), eye_centres(lm2)
        iod = np.linalg.norm(r1 - l1)
        errors += [np.linalg.norm(l2 - l1) / iod, np.linalg.norm(r2 - r1) / iod]
    return float(np.median(errors)) * 100


def main() -> None:
    parser = argparse.ArgumentParser(description="maskaway generate benchmarks")
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared")
    parser.add_argument("--utk", type=int, default=3000, help="UTKFace images to use")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    faces = args.shared / "faces"

    rate, ms = detection_rate(sorted((faces / "realmask").glob("*.png")))
    print(f"realmask: masked faces found {rate:.1%} ({ms:.1f} ms/photo, 1 thread)   target >= 90%")

    utk = sorted((faces / "utkface").glob("*.jpg"))
    utk = utk[:: max(1, len(utk) // args.utk)][: args.utk]
    with tempfile.TemporaryDirectory() as tmp:
        for p in utk:  # a folder of exactly these images, so the command's own folder walk is timed too
            os.symlink(p.resolve(), Path(tmp) / p.name)
        s = run_generate([Path(tmp)], args.workers)
    print(f"utkface: faces found in {1 - len(s['skipped']) / s['images_read']:.1%} of {s['images_read']} images"
          "   target >= 95%")
    print(f"utkface: {s['faces_found'] / s['wall']:.1f} faces/s whole command ({s['wall']:.1f}s, "
          f"{args.workers} workers)   target >= 100")

    big = [p for p in sorted((faces / "fixtures").glob("*.jpg")) if _side(p) == 1350]
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(5):
            for p in big:
                shutil.copy(p, Path(tmp) / f"{k}_{p.name}")
        s = run_generate([Path(tmp)], args.workers)
    print(f"fixtures 1350x1350: {s['images_read'] / s['wall']:.2f} photos/s whole command "
          f"({s['images_read']} photos, {s['wall']:.1f}s)   target >= 8")

    print(f"eyes under a synthetic mask: median error {eye_error_under_mask(faces / 'fixtures'):.2f}% of IOD"
          "   target < 5%")


def _side(path: Path) -> int:
    from PIL import Image

    with Image.open(path) as im:
        return im.size[0]


if __name__ == "__main__":
    main()
