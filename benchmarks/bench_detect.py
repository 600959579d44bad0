"""Face detection on real photos of masked people, per detector (issues 11 and 12). Prints each figure.

1. ``shared/faces/realmask`` (883 tight 224 px crops of masked faces): share of crops where a face is found
   whose centre lies in the middle third of the crop (a box in a corner is not the face).
2. ``shared/faces/maskdet`` (427 street photos, 2,065 labelled faces): recall of the labelled faces of
   ``--min-size`` px and more (found = a detection with IoU >= 0.3), by label and by size, plus
   detections that match no label per photo (an upper bound on false faces: labels skip some faces).
3. Milliseconds per photo on one thread, for each set.
4. Photos masked here: the fixture portraits given synthetic masks (``maskaway mask``'s synthesis), then
   shown large (as they are), small (faces of 40 and 28 px), tilted by 25 degrees either way, and six to
   a photo (a 3 x 2 mosaic). The true box is the detector's box on the unmasked, untouched portrait,
   moved with the photo; found = a detection with IoU >= 0.3.

    python benchmarks/bench_detect.py [--shared ../shared] [--detectors retina,ssd] [--min-size 24]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np


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


def masked_scenes(folder: Path, seed: int = 0) -> dict[str, list[tuple[np.ndarray, list[tuple]]]]:
    """{condition: [(photo, true boxes)]} from the portraits of ``folder``, masked by the synthesis."""
    import cv2

    from maskaway_cli.faces.detect import DetectorConfig, make_detector
    from maskaway_cli.faces.landmarks import predict_landmarks
    from maskaway_cli.imageio import load_rgb
    from maskaway_cli.synth.compose import MaskSynthesizer, SynthOptions
    from maskaway_cli.synth.photo import mask_photo

    reference = make_detector(DetectorConfig())
    synth, masked = MaskSynthesizer(SynthOptions()), []
    for i, path in enumerate(sorted(folder.glob("*.jpg"))):
        rgb = load_rgb(path)
        found = reference(rgb)
        if len(found) == 1:  # one face, so the true box is unambiguous
            box = found[0].box
            out = mask_photo(rgb, [predict_landmarks(rgb, box)], synth, np.random.default_rng([seed, i])).rgb
            masked.append((out, box))

    def scaled(rgb, box, face_px):
        k = face_px / (box[2] - box[0])
        small = cv2.resize(rgb, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
        return small, [tuple(v * k for v in box)]

    def tilted(rgb, box, degrees):
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        m = cv2.getRotationMatrix2D((cx, cy), degrees, 1.0)
        out = cv2.warpAffine(rgb, m, (rgb.shape[1], rgb.shape[0]), borderMode=cv2.BORDER_REFLECT)
        corners = np.array([[box[0], box[1], 1], [box[2], box[1], 1], [box[0], box[3], 1], [box[2], box[3], 1]]) @ m.T
        return out, [(*corners.min(0), *corners.max(0))]

    def mosaic(items, side=300):
        tiles, boxes = [], []
        for j, (rgb, box) in enumerate(items):
            k = side / max(rgb.shape[:2])
            tile = np.zeros((side, side, 3), np.uint8)
            small = cv2.resize(rgb, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
            tile[: small.shape[0], : small.shape[1]] = small
            tiles.append(tile)
            ox, oy = (j % 3) * side, (j // 3) * side
            boxes.append((box[0] * k + ox, box[1] * k + oy, box[2] * k + ox, box[3] * k + oy))
        rows = [np.concatenate(tiles[r * 3 : r * 3 + 3], 1) for r in range(2)]
        return np.concatenate(rows, 0), boxes

    return {
        "large (as photographed)": [(rgb, [box]) for rgb, box in masked],
        "small, 40 px faces": [scaled(rgb, box, 40) for rgb, box in masked],
        "small, 28 px faces": [scaled(rgb, box, 28) for rgb, box in masked],
        "tilted 25 degrees": [tilted(rgb, box, d) for rgb, box in masked for d in (25, -25)],
        "six to a photo": [mosaic(masked[k : k + 6]) for k in range(0, len(masked) - 5, 6)],
    }


def scene_rate(detect, scenes) -> tuple[float, int]:
    from maskaway_cli.faces.detect import box_iou

    hits = total = 0
    for rgb, boxes in scenes:
        dets = detect(rgb)
        for box in boxes:
            hits += any(box_iou(d.box, box) >= 0.3 for d in dets)
            total += 1
    return hits / max(total, 1), total


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
    scenes = masked_scenes(faces / "fixtures")
    for kind in args.detectors.split(","):
        detect = make_detector(DetectorConfig(kind=kind, min_face=min(args.min_size, 20)))
        rate, ms = realmask(detect, faces / "realmask")
        print(f"{kind}: realmask masked faces found {rate:.1%} ({ms:.1f} ms/photo, 1 thread)   target >= 98%")
        r = maskdet(detect, faces / "maskdet", args.min_size)
        labels = ", ".join(f"{k} {r[k]:.1%}" for k in ("with_mask", "without_mask", "mask_worn_incorrectly") if k in r)
        sizes = ", ".join(f"{k} px {r[k]:.1%}" for k in ("24-40", "40-80", "80+") if k in r)
        print(f"{kind}: maskdet faces >= {args.min_size} px found {r['all']:.1%} ({labels}; {sizes}); "
              f"unmatched detections {r['false_per_photo']:.2f}/photo; {r['ms_per_photo']:.1f} ms/photo   target >= 95%")
        for condition, items in scenes.items():
            rate, n = scene_rate(detect, items)
            print(f"{kind}: fixtures masked here, {condition}: {rate:.1%} of {n} faces found")


if __name__ == "__main__":
    main()
