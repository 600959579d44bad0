"""The whole pipeline on real photos of masked and unmasked people (issue 12). Prints each figure.

1. ``shared/faces/maskdet`` (427 street photos, labelled faces): of the labelled faces of ``--min-size`` px
   and more, the share of masked faces that ``unmask`` unmasks (found, and a mask painted) - target >= 90%
   - and the share of faces without a mask that it changes - target <= 3%.
2. ``shared/faces/realmask`` (883 real masked crops): the share of photos it changes - target >= 95%.

Each labelled face is matched to the detection with the highest IoU (>= 0.3).

    python benchmarks/bench_realphotos.py [--shared ../shared] [--weights RUN_OR_FILE ...] [--threshold 0.5]
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


def maskdet(folder: Path, detect, unmasker, min_size: int) -> dict:
    from maskaway_cli.faces.detect import box_iou
    from maskaway_cli.imageio import load_rgb

    counts = {"with_mask": [0, 0], "without_mask": [0, 0], "mask_worn_incorrectly": [0, 0]}  # [changed, total]
    for line in (folder / "annotations.jsonl").read_text().splitlines():
        row = json.loads(line)
        faces = faces_painted(load_rgb(folder / row["file"]), detect, unmasker)
        for label in row["faces"]:
            x0, y0, x1, y1 = label["box"]
            if min(x1 - x0, y1 - y0) < min_size:
                continue
            best = max(faces, key=lambda f: box_iou(f[0], label["box"]), default=None)
            painted = best is not None and box_iou(best[0], label["box"]) >= 0.3 and best[1]
            counts[label["label"]][0] += painted
            counts[label["label"]][1] += 1
    return {k: (c / n if n else float("nan"), n) for k, (c, n) in counts.items()}


def realmask(folder: Path, detect, unmasker) -> float:
    from maskaway_cli.imageio import load_rgb

    photos = sorted(folder.glob("*.png"))
    return sum(any(p for _, p, _ in faces_painted(load_rgb(path), detect, unmasker)) for path in photos) / len(photos)


def main() -> None:
    parser = argparse.ArgumentParser(description="unmask on real photos with labelled faces")
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared")
    parser.add_argument("--weights", action="append", default=[])
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--min-size", type=int, default=24)
    args = parser.parse_args()
    from maskaway_cli.faces.detect import DetectorConfig, make_detector
    from maskaway_cli.unmask.pipeline import Unmasker, resolve_weights

    detect = make_detector(DetectorConfig(min_face=20))
    unmasker = Unmasker(resolve_weights(tuple(args.weights)), device="cpu", threshold=args.threshold)
    start = time.perf_counter()
    r = maskdet(args.shared / "faces" / "maskdet", detect, unmasker, args.min_size)
    print(f"maskdet, faces >= {args.min_size} px: masked faces unmasked {r['with_mask'][0]:.1%} of {r['with_mask'][1]}"
          "   target >= 90%")
    print(f"maskdet, faces >= {args.min_size} px: faces without a mask changed {r['without_mask'][0]:.1%} of "
          f"{r['without_mask'][1]}   target <= 3%")
    print(f"maskdet: masks worn incorrectly, changed {r['mask_worn_incorrectly'][0]:.1%} of {r['mask_worn_incorrectly'][1]}")
    print(f"realmask: photos changed {realmask(args.shared / 'faces' / 'realmask', detect, unmasker):.1%}   target >= 95%")
    print(f"({time.perf_counter() - start:.0f} s, weights: {', '.join(p.name for p in unmasker.weights.values())})")


if __name__ == "__main__":
    main()
