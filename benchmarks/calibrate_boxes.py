"""Fit the detector box → HOG box conversion used by ``faces/landmarks.py`` (``BOX_TO_HOG``).

dlib's 68-point predictor was trained on HOG detector boxes; this script runs a detector and HOG on unmasked
faces (every 40th UTKFace crop and the fixtures), keeps photos where each finds exactly one face, and prints
the median offsets/scale to put in ``BOX_TO_HOG[detector]``.

    python benchmarks/calibrate_boxes.py [--shared ../shared] [--detector retina]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared")
    parser.add_argument("--detector", default="retina", choices=["retina", "ssd"])
    args = parser.parse_args()
    from maskaway_cli.faces.detect import DetectorConfig, make_detector
    from maskaway_cli.imageio import load_rgb

    ssd = make_detector(DetectorConfig(kind=args.detector))
    hog = make_detector(DetectorConfig(kind="hog"))
    photos = sorted((args.shared / "faces" / "utkface").glob("*.jpg"))[::40]
    photos += sorted((args.shared / "faces" / "fixtures").glob("*.jpg"))
    rows = []
    for path in photos:
        rgb = load_rgb(path)
        s, h = ssd(rgb), hog(rgb)
        if len(s) != 1 or len(h) != 1:
            continue
        (sx0, sy0, sx1, sy1), (hx0, hy0, hx1, hy1) = s[0].box, h[0].box
        sw, sh = sx1 - sx0, sy1 - sy0
        rows.append([
            ((hx0 + hx1) - (sx0 + sx1)) / 2 / sw,  # centre offset, in SSD widths
            ((hy0 + hy1) - (sy0 + sy1)) / 2 / sh,  # centre offset, in SSD heights
            (hx1 - hx0) / np.sqrt(sw * sh),  # HOG side over the SSD's geometric-mean side
        ])
    r = np.median(np.array(rows), axis=0)
    print(f"faces used: {len(rows)}")
    print(f'BOX_TO_HOG["{args.detector}"] = ({r[0]:.3f}, {r[1]:.3f}, {r[2]:.2f})  # dx, dy, side')


if __name__ == "__main__":
    main()
