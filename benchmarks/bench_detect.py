"""Face detection on real photos of masked people, per detector (issues 11 and 12). Prints each figure.

1. ``shared/faces/realmask`` (883 tight 224 px crops of masked faces): share of crops where a face is found
   whose centre lies in the middle third of the crop (a box in a corner is not the face).
2. ``shared/faces/maskdet`` (427 street photos, 2,065 labelled faces): recall of the labelled faces of
   ``--min-size`` px and more (found = a detection with IoU >= 0.3), by label and by size, plus
   detections that match no label per photo (an upper bound on false faces: labels skip some faces).
3. Milliseconds per photo on one thread, for each set.

    python benchmarks/bench_detect.py [--shared ../shared] [--detectors retina,ssd] [--min-size 24]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path


def realmask(detect, folder: Path) -> tuple[float, float]:
    from maskaway_cli.imageio import load_rgb

    images = [load_rgb(p) for p in sorted(folder.glob("*.png"))]
    hits, start = 0, time.perf_counter()
    for rgb in images:
        h, w = rgb.shape[:2]
        centred = [d for d in detect(rgb)
                   if abs((d.box[0] + d.box[2]) / 2 - w / 2) < w / 6 and abs((d.box[1] + d.box[3]) / 2 - h / 2) < h / 6]
        hits += bool(centred)
    return hits / len(images), (time.perf_counter() - start) / len(images) * 1000


def maskdet(detect, folder: Path, min_size: int) -> dict:
    from maskaway_cli.faces.detect import box_iou
    from maskaway_cli.imageio import load_rgb

    rows = [json.loads(line) for line in (folder / "annotations.jsonl").read_text().splitlines()]
    found, total, false, seconds = defaultdict(int), defaultdict(int), 0, 0.0
    for row in rows:
        rgb = load_rgb(folder / row["file"])
        start = time.perf_counter()
        dets = detect(rgb)
        seconds += time.perf_counter() - start
        matched = set()
        for face in row["faces"]:
            x0, y0, x1, y1 = face["box"]
            side = min(x1 - x0, y1 - y0)
            best = max(range(len(dets)), key=lambda i: box_iou(dets[i].box, face["box"]), default=None)
            hit = best is not None and box_iou(dets[best].box, face["box"]) >= 0.3
            if hit:
                matched.add(best)
            if side < min_size:
                continue
            band = "24-40" if side < 40 else "40-80" if side < 80 else "80+"
            for key in ("all", face["label"], band):
                total[key] += 1
                found[key] += hit
        false += len(dets) - len(matched)
    out = {k: found[k] / total[k] for k in total}
    out["false_per_photo"] = false / len(rows)
    out["ms_per_photo"] = seconds / len(rows) * 1000
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description="face detection on real masked photos")
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared")
    parser.add_argument("--detectors", default="retina,ssd")
    parser.add_argument("--min-size", type=int, default=24, help="smallest labelled face counted (maskdet)")
    args = parser.parse_args()
    import cv2

    from maskaway_cli.faces.detect import DetectorConfig, make_detector

    cv2.setNumThreads(1)
    faces = args.shared / "faces"
    for kind in args.detectors.split(","):
        detect = make_detector(DetectorConfig(kind=kind, min_face=min(args.min_size, 20)))
        rate, ms = realmask(detect, faces / "realmask")
        print(f"{kind}: realmask masked faces found {rate:.1%} ({ms:.1f} ms/photo, 1 thread)   target >= 98%")
        r = maskdet(detect, faces / "maskdet", args.min_size)
        labels = ", ".join(f"{k} {r[k]:.1%}" for k in ("with_mask", "without_mask", "mask_worn_incorrectly") if k in r)
        sizes = ", ".join(f"{k} px {r[k]:.1%}" for k in ("24-40", "40-80", "80+") if k in r)
        print(f"{kind}: maskdet faces >= {args.min_size} px found {r['all']:.1%} ({labels}; {sizes}); "
              f"unmatched detections {r['false_per_photo']:.2f}/photo; {r['ms_per_photo']:.1f} ms/photo   target >= 95%")


if __name__ == "__main__":
    main()
