"""The whole pipeline on real photos of masked and unmasked people (issue 12). Prints each figure.

1. ``shared/faces/maskdet`` (427 street photos, labelled faces): of the labelled faces of ``--min-size`` px
   and more, the share of masked faces that ``unmask`` unmasks (found, and a mask painted) - target >= 90%
   - and the share of faces without a mask that it changes - target <= 3%.
2. ``shared/faces/realmask`` (883 real masked crops): the share of photos it changes - target >= 95%.

Each labelled face is matched to the detection with the highest IoU (>= 0.3).

Both sets count only the held-out half of the photos (odd hash of the name, ``train/presence.py``): the
mask-presence model was trained on the other half. ``--all`` counts every photo.

    python benchmarks/bench_realphotos.py [--shared ../shared] [--weights RUN_OR_FILE ...] [--threshold T]
        [--min-presence P] [--min-confidence C] [--all]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def faces_painted(rgb, detect, unmasker) -> list[tuple[tuple, bool, float]]:
    """(box, painted?, mask fraction) for every face the pipeline finds in ``rgb``."""
    from maskaway_cli.unmask.pipeline import aligned_faces

    found = aligned_faces(rgb, detect, unmasker.size)
    outputs = unmasker([a.crop for _, a in found]) if found else []
    return [(f.box, o.has_mask, o.mask_fraction) for (f, _), o in zip(found, outputs)]


def maskdet(folder: Path, detect, unmasker, min_size: int, use) -> dict:
    from maskaway_cli.faces.detect import box_iou
    from maskaway_cli.imageio import load_rgb

    counts = {"with_mask": [0, 0], "without_mask": [0, 0], "mask_worn_incorrectly": [0, 0]}  # [changed, total]
    found = {k: 0 for k in counts}
    strays = [0, 0]  # detections that match no labelled face: [painted, total]
    for line in (folder / "annotations.jsonl").read_text().splitlines():
        row = json.loads(line)
        if not use(row["file"]):
            continue
        faces = faces_painted(load_rgb(folder / row["file"]), detect, unmasker)
        for box, painted, _ in faces:
            if all(box_iou(box, label["box"]) < 0.3 for label in row["faces"]):
                strays[0] += painted
                strays[1] += 1
        for label in row["faces"]:
            x0, y0, x1, y1 = label["box"]
            if min(x1 - x0, y1 - y0) < min_size:
                continue
            best = max(faces, key=lambda f: box_iou(f[0], label["box"]), default=None)
            matched = best is not None and box_iou(best[0], label["box"]) >= 0.3
            found[label["label"]] += matched
            counts[label["label"]][0] += matched and best[1]
            counts[label["label"]][1] += 1
    out = {k: (c / n if n else float("nan"), n, found[k] / n if n else float("nan")) for k, (c, n) in counts.items()}
    return {**out, "strays": tuple(strays)}


def realmask(folder: Path, detect, unmasker, use) -> tuple[float, float, int]:
    """(share of photos changed, share with a face found, photos)."""
    from maskaway_cli.imageio import load_rgb

    photos = [p for p in sorted(folder.glob("*.png")) if use(p.name)]
    faces = [faces_painted(load_rgb(path), detect, unmasker) for path in photos]
    changed = sum(any(p for _, p, _ in f) for f in faces)
    return changed / len(photos), sum(bool(f) for f in faces) / len(photos), len(photos)


def main() -> None:
    parser = argparse.ArgumentParser(description="unmask on real photos with labelled faces")
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared")
    parser.add_argument("--weights", action="append", default=[])
    parser.add_argument("--threshold", type=float, default=None, help="default: the segmenter's calibrated one")
    parser.add_argument("--min-presence", type=float, default=None, help="default: the presence model's calibrated one")
    parser.add_argument("--min-confidence", type=float, default=None)
    parser.add_argument("--min-size", type=int, default=24)
    parser.add_argument("--all", action="store_true", help="count every photo, not only the held-out half")
    args = parser.parse_args()
    from maskaway_cli.faces.detect import DetectorConfig, make_detector
    from maskaway_cli.train.presence import held_out, seen_every_photo
    from maskaway_cli.unmask.pipeline import Unmasker, resolve_weights

    use = (lambda name: True) if args.all else held_out
    detect = make_detector(DetectorConfig(min_face=20))
    unmasker = Unmasker(resolve_weights(tuple(args.weights)), device="cpu", threshold=args.threshold,
                        min_presence=args.min_presence, min_confidence=args.min_confidence)
    if seen_every_photo(unmasker.weights):
        print("note: the presence model was trained on every photo here: these figures are not held out for it "
              "(pass --weights with a model trained on the training half to measure the recipe)")
    start = time.perf_counter()
    r = maskdet(args.shared / "faces" / "maskdet", detect, unmasker, args.min_size, use)
    half = "all photos" if args.all else "held-out half"
    for key, what, goal in (("with_mask", "masked faces unmasked", "   target >= 90%"),
                            ("without_mask", "faces without a mask changed", "   target <= 3%"),
                            ("mask_worn_incorrectly", "masks worn incorrectly, changed", "")):
        share, n, found = r[key]
        print(f"maskdet ({half}), faces >= {args.min_size} px: {what} {share:.1%} of {n} (found {found:.1%}){goal}")
    print(f"maskdet: detections matching no labelled face {r['strays'][1]}, painted {r['strays'][0]}")
    changed, found, n = realmask(args.shared / "faces" / "realmask", detect, unmasker, use)
    print(f"realmask ({half}): photos changed {changed:.1%} of {n} (a face found in {found:.1%})   target >= 95%")
    print(f"({time.perf_counter() - start:.0f} s, weights: {', '.join(p.name for p in unmasker.weights.values())}, "
          f"threshold {unmasker.threshold}, min presence {unmasker.min_presence}, min confidence {unmasker.min_confidence})")


if __name__ == "__main__":
    main()
