"""Measured targets of ``maskaway unmask`` (issue 5). Prints each figure with its target.

1. Throughput on the 1350x1350 fixtures given synthetic masks (each copied ``--copies`` times so start-up
   does not dominate), whole command, ``--workers`` processes: >= 3 photos/s with the 128 px models
   (issue 13; >= 5 with the 64 px ones, issue 5), with the share of time per stage, and >= 80% of the
   throughput of face detection alone (load + detect) at the same settings and worker count.
2. Memory: peak RSS (main process and the largest worker) for 1x and 4x as many photos: flat.

Weights: ``--weights`` (repeatable) or the installed ones; with none installed, random weights of the
default architecture are made (same cost per face; the random segmenter may find no mask, so pass
``--mask-dir`` timing is also printed, where every face is pasted back).

    python benchmarks/bench_unmask.py [--shared ../shared] [--copies 8] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RSS_PROBE = """
import resource, sys
from maskaway_cli.cli.app import app
try:
    app(sys.argv[1:])
except SystemExit:
    pass
self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
kids_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(f"RSS {self_kb} {kids_kb}", file=sys.stderr)
"""


def make_inputs(fixtures: Path, folder: Path, masks: Path, copies: int) -> int:
    """Masked versions of the 1350 px fixtures (JPEG q95) and their true masks (PNG)."""
    from PIL import Image

    from maskaway_cli.faces.detect import DetectorConfig, make_detector
    from maskaway_cli.faces.landmarks import predict_landmarks
    from maskaway_cli.imageio import load_rgb
    from maskaway_cli.synth.compose import MaskSynthesizer, SynthOptions
    from maskaway_cli.synth.photo import mask_photo

    detect, synth = make_detector(DetectorConfig()), MaskSynthesizer(SynthOptions())
    n = 0
    for i, path in enumerate(sorted(fixtures.glob("london_*.jpg"))):
        rgb = load_rgb(path)
        lm = predict_landmarks(rgb, max(detect(rgb), key=lambda d: d.size).box)
        masked = mask_photo(rgb, [lm], synth, np.random.default_rng(i))
        for k in range(copies):
            Image.fromarray(masked.rgb).save(folder / f"{k}_{path.stem}.jpg", quality=95)
            Image.fromarray(masked.binary).save(masks / f"{k}_{path.stem}.png")
            n += 1
    return n


def _detect_only(path: str) -> int:
    from maskaway_cli.faces.detect import DetectorConfig, make_detector
    from maskaway_cli.imageio import load_image

    import cv2

    cv2.setNumThreads(1)
    return len(make_detector(DetectorConfig())(load_image(path).rgb))


def detection_rate(folder: Path, workers: int) -> float:
    import multiprocessing as mp

    files = sorted(str(p) for p in folder.glob("*.jpg"))
    with mp.get_context("spawn").Pool(workers) as pool:
        pool.map(_detect_only, files[:workers])  # start-up and model loading, not timed
        start = time.perf_counter()
        pool.map(_detect_only, files, chunksize=2)
        return len(files) / (time.perf_counter() - start)


def stage_costs(folder: Path, weights: list[str], limit: int = 16) -> dict[str, float]:
    """Milliseconds per photo of each step on one core, in this process (no workers, no pipes): what the
    throughput ratio is made of."""
    import cv2
    import torch

    from maskaway_cli.faces.detect import DetectorConfig, make_detector
    from maskaway_cli.imageio import atomic_write_bytes, encode_image, load_image
    from maskaway_cli.unmask.pipeline import Unmasker, aligned_faces, paste_faces, resolve_weights

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    detect = make_detector(DetectorConfig())
    unmasker = Unmasker(resolve_weights(tuple(weights[1::2])), device="cpu")
    files = sorted(folder.glob("*.jpg"))[:limit]
    costs: dict[str, float] = {}

    def timed(name, fn):
        start = time.perf_counter()
        value = fn()
        if timing:
            costs[name] = costs.get(name, 0.0) + (time.perf_counter() - start) * 1000 / len(files)
        return value

    for timing, path in [(False, files[0])] + [(True, f) for f in files]:  # the first pass loads models
        image = timed("load", lambda: load_image(path))
        timed("detect", lambda: detect(image.rgb))
        faces = timed("detect+landmarks+align", lambda: [a for _, a in aligned_faces(image.rgb, detect, unmasker.size)])
        outputs = timed("models", lambda: unmasker([f.crop for f in faces]))
        rgb, _ = timed("paste", lambda: paste_faces(image.rgb, [f.matrix for f in faces], outputs))
        data = timed("encode", lambda: encode_image(rgb, "JPEG", quality=image.jpeg_quality, exif=image.exif,
                                                     icc_profile=image.icc_profile,
                                                     subsampling=image.jpeg_subsampling))
        timed("write", lambda: atomic_write_bytes(folder.parent / "stage_costs.jpg", data))
    return costs


def run_unmask(args: list[str]) -> tuple[dict, float, int, int]:
    cmd = [sys.executable, "-c", RSS_PROBE, "unmask", *args, "--json"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 3) or not proc.stdout.strip():
        raise SystemExit(f"unmask failed: {proc.stderr[-3000:]}")
    rss = [line for line in proc.stderr.splitlines() if line.startswith("RSS ")][-1].split()
    return json.loads(proc.stdout), wall, int(rss[1]) // 1024, int(rss[2]) // 1024


def ensure_weights(given: list[str], folder: Path, width: int = 32) -> list[str]:
    from maskaway_cli.errors import WeightsError
    from maskaway_cli.unmask.pipeline import resolve_weights

    if given:
        return given
    try:
        resolve_weights(())
        return []
    except WeightsError:
        pass
    import torch

    from maskaway_cli.models import Generator, Segmenter, UNetConfig
    from maskaway_cli.weights_io import WeightsMeta, save_weights

    print(f"(no weights installed: timing random weights, U-Nets of base width {width})")
    torch.manual_seed(0)
    specs = []
    for kind, cls, cin, cout in (("segmenter", Segmenter, 3, 1), ("generator", Generator, 4, 3)):
        cfg = UNetConfig.for_size(64, in_channels=cin, out_channels=cout, base_channels=width)
        path = save_weights(folder / f"{kind}.safetensors", cls(cfg).eval().state_dict(),
                            WeightsMeta(kind=kind, arch=cfg.to_dict(), image_size=64))
        specs += ["--weights", str(path)]
    return specs


def main() -> None:
    parser = argparse.ArgumentParser(description="maskaway unmask benchmarks")
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared")
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--weights", action="append", default=[])
    parser.add_argument("--width", type=int, default=32, help="base width of the random U-Nets (no weights)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        photos, masks, few, few_masks = tmp / "photos", tmp / "masks", tmp / "few", tmp / "few_masks"
        for d in (photos, masks, few, few_masks):
            d.mkdir()
        n = make_inputs(args.shared / "faces" / "fixtures", photos, masks, args.copies)
        n_few = make_inputs(args.shared / "faces" / "fixtures", few, few_masks, max(1, args.copies // 4))
        weights = ensure_weights([w for spec in args.weights for w in ("--weights", spec)], tmp, args.width)
        common = ["--workers", str(args.workers), *weights]

        costs = stage_costs(photos, weights)
        print("one core, in-process, ms per photo: " + ", ".join(f"{k} {v:.1f}" for k, v in costs.items()))
        total = sum(v for k, v in costs.items() if k != "detect")  # "detect" is inside detect+landmarks+align
        print("  share of the time per stage: " + ", ".join(f"{k} {v / total:.0%}" for k, v in costs.items()
                                                           if k != "detect"))
        base = costs["load"] + costs["detect"]
        extra = costs["detect+landmarks+align"] - costs["detect"] + sum(
            costs[k] for k in ("models", "paste", "encode", "write"))
        print(f"  work on top of load + detect: {extra:.1f} ms = {extra / base:.0%} of it; the ratio can be at "
              f"most {base / (base + extra):.0%} before any process overhead")

        det = detection_rate(photos, args.workers)
        print(f"detection alone (load + detect): {det:.2f} photos/s ({n} photos, {args.workers} workers, "
              "after start-up)")
        s, wall, main_mb, kid_mb = run_unmask([str(photos), "-o", str(tmp / "out"), *common])
        s_few, wall_few, few_main, few_kid = run_unmask([str(few), "-o", str(tmp / "out3"), *common])
        # The difference between the two runs cancels start-up (imports, model loading, worker spawn).
        steady = (n - n_few) / max(wall - wall_few, 1e-6)
        print(f"unmask whole command: {n / wall:.2f} photos/s ({n} photos in {wall:.1f}s incl. start-up); "
              f"{steady:.2f} photos/s after start-up; faces {s['faces_found']}, masks removed "
              f"{s['masks_removed']}   target >= 3 (128 px models; >= 5 with the 64 px ones)")
        print(f"unmask / detection alone (after start-up): {steady / det:.0%}   target >= 80%")
        s2, wall2, _, _ = run_unmask([str(photos), "-o", str(tmp / "out2"), "--mask-dir", str(masks), *common])
        print(f"unmask with --mask-dir (every face pasted back): {n / wall2:.2f} photos/s incl. start-up")
        print(f"peak RSS: {n_few} photos main {few_main} MB / worker {few_kid} MB; {n} photos main {main_mb} MB / "
              f"worker {kid_mb} MB   target: flat")

if __name__ == "__main__":
    main()
