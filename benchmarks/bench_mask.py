"""``maskaway mask`` against MaskTheFace, side by side in one run (issue 11). Prints both ratios.

Both tools mask the same photos, each as a whole command timed from start to exit (start-up included),
with one surgical mask per face:

1. 1350x1350 portraits (the London fixtures, copied ``--copies`` times): target >= 5x MaskTheFace.
2. 200x200 UTKFace crops (``--crops`` of them): target >= 2.5x MaskTheFace.

Then where ``mask``'s time goes on each set, per step, in one process on one core.

MaskTheFace is not part of MaskAway: give a checkout of https://github.com/aqeelanwar/MaskTheFace with its
``masks/`` folder and ``dlib_models/shape_predictor_68_face_landmarks.dat`` in place (face-recognition-models
ships that file) and a Python that runs it (dlib-bin, opencv-python-headless, imutils, dotmap, tqdm,
requests):

    python benchmarks/bench_mask.py --masktheface /tmp/masktheface --mtf-python /tmp/mtf-venv/bin/python
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


def run_masktheface(folder: Path, checkout: Path, python: str) -> tuple[float, int]:
    """Wall seconds and photos written; MaskTheFace writes ``FOLDER_masked/`` beside the folder."""
    out = folder.with_name(folder.name + "_masked")
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    proc = subprocess.run([python, "mask_the_face.py", "--path", str(folder), "--mask_type", "surgical"],
                          cwd=checkout, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"MaskTheFace failed ({proc.returncode}): {proc.stderr[-2000:]}")
    written = len(list(out.iterdir())) if out.is_dir() else 0
    shutil.rmtree(out, ignore_errors=True)
    return wall, written


def run_mask(folder: Path, workers: int) -> tuple[float, dict]:
    """Wall seconds and the JSON summary of ``maskaway mask`` (every output written)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "maskaway_cli", "mask", str(folder), "-o", str(Path(tmp) / "out"),
               "--types", "surgical", "--workers", str(workers), "--json"]
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - start
    if proc.returncode not in (0, 3):
        raise SystemExit(f"maskaway mask failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return wall, json.loads(proc.stdout)


def profile(photos: list[Path]) -> dict[str, float]:
    """Milliseconds per photo of each step of ``mask``, in this process on one core."""
    import cv2
    import numpy as np

    from maskaway_cli.faces.detect import DetectorConfig, make_detector
    from maskaway_cli.imageio import atomic_write_bytes, encode_like, encode_png, load_image
    from maskaway_cli.faces.locate import find_faces
    from maskaway_cli.masking.streams import face_rng
    from maskaway_cli.synth.compose import MaskSynthesizer, SynthOptions
    from maskaway_cli.synth.photo import mask_photo

    cv2.setNumThreads(1)
    detect = make_detector(DetectorConfig(keep_small=True))
    synth = MaskSynthesizer(SynthOptions(types=("surgical",)))
    steps = dict.fromkeys(["load", "detect+landmarks", "draw masks", "encode photo", "encode mask", "write"], 0.0)
    find_faces(load_image(photos[0]).rgb, detect)  # warm up: models load on their first call
    with tempfile.TemporaryDirectory() as tmp:
        for i, path in enumerate(photos):
            t0 = time.perf_counter()
            image = load_image(path)
            t1 = time.perf_counter()
            faces, _ = find_faces(image.rgb, detect)
            t2 = time.perf_counter()
            rngs = [face_rng(0, path.name, f.index, 0)[0] for f in faces]
            masked = mask_photo(image.rgb, [f.landmarks for f in faces], synth, rngs)
            t3 = time.perf_counter()
            photo = encode_like(image, masked.rgb, image.format or "PNG", note="bench")
            t4 = time.perf_counter()
            mask = encode_png(masked.binary, compress_level=1)
            t5 = time.perf_counter()
            atomic_write_bytes(Path(tmp) / f"{i}.img", photo, durable=False)
            atomic_write_bytes(Path(tmp) / f"{i}.png", mask, durable=False)
            t6 = time.perf_counter()
            for key, a, b in zip(steps, (t0, t1, t2, t3, t4, t5), (t1, t2, t3, t4, t5, t6)):
                steps[key] += (b - a) * 1000 / len(photos)
    del np
    return steps


def compare(label: str, folder: Path, n: int, args, target: float) -> None:
    mtf_wall, mtf_written = run_masktheface(folder, args.masktheface, args.mtf_python)
    ours_wall, ours = run_mask(folder, args.workers)
    mtf_rate, ours_rate = n / mtf_wall, n / ours_wall
    print(f"{label}: MaskTheFace {mtf_rate:.2f} photos/s ({mtf_written} of {n} written, {mtf_wall:.1f}s); "
          f"maskaway mask {ours_rate:.2f} photos/s ({ours['photos_written']} written, "
          f"{ours['faces_masked']} faces, {ours_wall:.1f}s, {args.workers} workers)")
    print(f"{label}: ratio {ours_rate / mtf_rate:.2f}x   target >= {target}x")


def main() -> None:
    parser = argparse.ArgumentParser(description="maskaway mask vs MaskTheFace")
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared")
    parser.add_argument("--masktheface", type=Path, required=True, help="a MaskTheFace checkout, ready to run")
    parser.add_argument("--mtf-python", default=sys.executable, help="the Python that runs MaskTheFace")
    parser.add_argument("--copies", type=int, default=4, help="copies of the 1350 px fixtures")
    parser.add_argument("--crops", type=int, default=500, help="UTKFace crops")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    faces = args.shared / "faces"
    from PIL import Image

    portraits = [p for p in sorted((faces / "fixtures").glob("london_*.jpg")) if Image.open(p).size == (1350, 1350)]
    utk = sorted((faces / "utkface").glob("*.jpg"))
    utk = utk[:: max(1, len(utk) // args.crops)][: args.crops]
    with tempfile.TemporaryDirectory() as tmp:
        big, small = Path(tmp) / "portraits", Path(tmp) / "crops"
        big.mkdir(), small.mkdir()
        for k in range(args.copies):
            for p in portraits:
                shutil.copy(p, big / f"{k}_{p.name}")
        for p in utk:
            shutil.copy(p, small / p.name)
        compare("1350 px portraits", big, args.copies * len(portraits), args, 5.0)
        compare("200 px crops", small, len(utk), args, 2.5)
        for label, photos in (("1350 px portraits", portraits[:8]), ("200 px crops", utk[:200])):
            steps = profile(photos)
            total = sum(steps.values())
            print(f"{label}, ms per photo on one core ({total:.1f} in all): "
                  + ", ".join(f"{k} {v:.1f}" for k, v in steps.items()))


if __name__ == "__main__":
    main()
