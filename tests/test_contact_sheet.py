"""scripts/contact_sheet.py: the model card's sheets of painted faces, cropped from whole photos."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("contact_sheet", ROOT / "scripts" / "contact_sheet.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_crop_is_what_changed_grown_by_half_and_kept_in_the_photo():
    painted_box = _script().painted_box
    before = np.full((100, 200, 3), 120, np.uint8)
    after = before.copy()
    after[40:60, 100:140] = 200  # 40 x 20 painted
    after[5, 5] = 124  # JPEG-sized noise is not paint
    assert painted_box(before, after) == (80, 30, 160, 70)
    after[90:100, 180:200] = 0  # paint at the corner: the grown box stops at the photo's edge
    x0, y0, x1, y1 = painted_box(before, after)
    assert (x1, y1) == (200, 100) and x0 >= 0 and y0 >= 0
    assert painted_box(before, before) is None


def test_the_sheet_masks_unmasks_and_lays_out_a_portrait(tmp_path):
    import cv2

    out = tmp_path / "sheet.jpg"
    argv = [sys.executable, str(ROOT / "scripts" / "contact_sheet.py"), str(ROOT / "examples" / "cc0_lisa2.jpg"),
            "-o", str(out), "--mask", "--height", "120"]
    run = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    sheet = cv2.imread(str(out))
    assert sheet.shape[0] == 120 and sheet.shape[1] > 3 * 60  # one row: masked | unmasked | original
    third = sheet.shape[1] // 3
    masked, unmasked = sheet[:, :third].astype(int), sheet[:, third : 2 * third].astype(int)
    assert np.abs(masked - unmasked).mean() > 5  # the mask was painted over
