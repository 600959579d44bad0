"""A contact sheet of what ``unmask`` painted, cropped from the whole photos at their own resolution.

    python scripts/contact_sheet.py PHOTOS... -o docs/sheets/portraits.jpg [--mask --seed 1]

Each row is one painted face: the input, the output and, with ``--mask``, the original. With ``--mask`` the
photos are unmasked portraits: ``maskaway mask`` puts a mask on them first, so the original is the truth
(its masks depend on ``--seed`` and on each photo's path as given, so run it from the same folder).
Without it they are photos of people wearing masks. Both steps run the CLI, exactly as a user would. The
crop is the painted region's bounding box grown by half its size on each side, so the eyes and the cheeks
around the mouth are there to judge it by. Every tile is scaled to the same height: photos smaller than
that are enlarged (nearest neighbour, so no blur is added), larger ones are shrunk.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

GROW = 0.5  # of the painted box's size, on each side
MIN_CHANGE = 8  # levels: what counts as painted (JPEG noise stays under it)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", type=Path, nargs="+")
    parser.add_argument("-o", "--out", type=Path, required=True)
    parser.add_argument("--mask", action="store_true", help="mask the photos first (they are unmasked portraits)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--height", type=int, default=360, help="tile height in pixels")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        inputs = tmp / "in"
        if args.mask:
            # the photos as given: `mask` seeds each face from the seed and the photo's path
            _cli("mask", *map(str, args.photos), "-o", str(inputs), "--seed", str(args.seed))
        else:
            inputs.mkdir()
            for p in args.photos:
                (inputs / p.name).symlink_to(p.resolve())
        _cli("unmask", str(inputs), "-o", str(tmp / "out"))
        rows = [_row(inputs / p.name, tmp / "out" / p.name, p if args.mask else None, args.height)
                for p in args.photos]
    rows = [r for r in rows if r is not None]
    if not rows:
        sys.exit("contact_sheet: no face was painted")
    _save(_stack(rows), args.out)
    print(f"{args.out}: {len(rows)} faces")


def _cli(*argv: str) -> None:
    subprocess.run([sys.executable, "-m", "maskaway_cli", *argv], check=True, stdout=subprocess.DEVNULL)


def _row(source: Path, output: Path, original: Path | None, height: int) -> np.ndarray | None:
    """[input | output | original] cropped around what was painted, or None when nothing was."""
    from maskaway_cli.imageio import load_rgb

    if not output.is_file():
        return None
    before, after = load_rgb(source), load_rgb(output)
    box = painted_box(before, after)
    if box is None:
        return None
    images = [before, after] + ([load_rgb(original)] if original is not None else [])
    return np.concatenate([_tile(im, box, height) for im in images], axis=1)


def painted_box(before: np.ndarray, after: np.ndarray) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) of the pixels that changed by more than MIN_CHANGE, grown by GROW, in the image."""
    changed = np.abs(before.astype(np.int16) - after.astype(np.int16)).max(axis=2) > MIN_CHANGE  # (H,W)
    ys, xs = np.nonzero(changed)
    if len(xs) == 0:
        return None
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    gx, gy = int(GROW * (x1 - x0)), int(GROW * (y1 - y0))
    h, w = changed.shape
    return max(0, x0 - gx), max(0, y0 - gy), min(w, x1 + gx), min(h, y1 + gy)


def _tile(image: np.ndarray, box, height: int) -> np.ndarray:
    import cv2

    x0, y0, x1, y1 = box
    crop = image[y0:y1, x0:x1]
    scale = height / crop.shape[0]
    size = (max(1, round(crop.shape[1] * scale)), height)
    return cv2.resize(crop, size, interpolation=cv2.INTER_NEAREST if scale > 1 else cv2.INTER_AREA)


def _stack(rows: list[np.ndarray]) -> np.ndarray:
    """Rows of different widths, left-aligned on a white sheet with a 6 px gap."""
    width = max(r.shape[1] for r in rows)
    gap = np.full((6, width, 3), 255, np.uint8)
    padded = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    return np.concatenate([x for r in padded for x in (r, gap)][:-1], axis=0)


def _save(sheet: np.ndarray, out: Path) -> None:
    import cv2

    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90]):
        sys.exit(f"contact_sheet: could not write {out}")


if __name__ == "__main__":
    main()
