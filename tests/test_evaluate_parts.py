"""``maskaway evaluate`` building blocks against hand-computed values (no models involved)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from maskaway_cli.errors import UsageError
from maskaway_cli.evaluation.measure import image_metrics, telea
from maskaway_cli.evaluation.samples import choose_split, load_batch, select
from maskaway_cli.evaluation.sheet import FALSE_ALARM, HIT, MISSED, mask_view
from maskaway_cli.evaluation.tally import PSNR_CAP, MeanTally, SegTally
from maskaway_cli.metrics.seg import SegCounts


def test_mean_tally_by_group_and_overall_skips_nan_and_caps_psnr() -> None:
    t = MeanTally()
    t.add(["a", "a", "b"], "m", "full_l1", [0.1, 0.3, 0.5])
    t.add(["a", "a", "b"], "m", "mask_l1", [0.2, math.nan, 0.6])
    t.add(["a", "b", "b"], "m", "full_psnr", [math.inf, 20.0, 30.0])
    overall, a = t.means(None)["m"], t.means("a")["m"]
    assert overall["full_l1"] == pytest.approx(0.3) and a["full_l1"] == pytest.approx(0.2)
    assert overall["mask_l1"] == pytest.approx(0.4) and a["mask_l1"] == pytest.approx(0.2)  # NaN skipped
    assert overall["full_psnr"] == pytest.approx((PSNR_CAP + 50) / 3) and a["full_psnr"] == PSNR_CAP
    assert (overall["n"], overall["n_in_mask"], a["n"], a["n_in_mask"]) == (3, 2, 2, 1)
    assert t.means("nobody") == {}


def test_seg_tally_micro_averages_per_group() -> None:
    t = SegTally()
    t.add("a", "raw", SegCounts(tp=2, fp=1, fn=1, tn=6))
    t.add("b", "raw", SegCounts(tp=6, fp=0, fn=2, tn=2))
    assert t.scores("a")["raw"]["iou"] == pytest.approx(2 / 4)
    overall = t.scores(None)["raw"]  # counts summed first: tp 8, fp 1, fn 3
    assert overall["iou"] == pytest.approx(8 / 12) and overall["precision"] == pytest.approx(8 / 9)
    assert overall["recall"] == pytest.approx(8 / 11) and overall["dice"] == pytest.approx(16 / 20)


def test_image_metrics_full_and_in_mask_by_hand() -> None:
    truth = np.full((2, 16, 16, 3), 100, np.uint8)
    result = truth.copy()
    result[:, :8] += 51  # top half off by 51/255 = 0.2
    mask = np.zeros((2, 16, 16), bool)
    mask[0, :8] = True  # image 0: mask = the damaged half; image 1: empty mask
    m = image_metrics(result, truth, mask)
    assert m["full_l1"] == pytest.approx([0.1, 0.1]) and m["mask_l1"][0] == pytest.approx(0.2)
    assert m["full_psnr"][0] == pytest.approx(10 * math.log10(1 / 0.02), rel=1e-5)
    assert m["mask_psnr"][0] == pytest.approx(10 * math.log10(1 / 0.04), rel=1e-5)
    assert all(math.isnan(m[k][1]) for k in ("mask_l1", "mask_psnr", "mask_ssim"))
    from maskaway_cli.evaluation.measure import mask_tensor, to_tensor
    from maskaway_cli.metrics.image import ssim

    a, b, mt = to_tensor(result), to_tensor(truth), mask_tensor(mask)
    assert m["mask_ssim"][0] == pytest.approx(ssim(a, b, mt)[0].item(), rel=1e-5)
    assert m["mask_ssim"][0] < m["full_ssim"][0] < 1
    assert m["full_ssim"] == pytest.approx(ssim(a, b).numpy(), rel=1e-5)
    same = image_metrics(truth, truth, mask)
    assert same["full_ssim"] == pytest.approx([1, 1]) and same["full_l1"] == pytest.approx([0, 0])


def test_telea_fills_only_the_mask_and_beats_doing_nothing_on_a_smooth_face() -> None:
    yy, xx = np.mgrid[0:64, 0:64]
    truth = np.stack([xx * 3, yy * 3, (xx + yy) * 1.5], -1).astype(np.uint8)  # (64,64,3) smooth ramps
    mask = np.zeros((64, 64), bool)
    mask[30:50, 20:44] = True
    masked = truth.copy()
    masked[mask] = (250, 10, 200)
    filled = telea(masked, mask)
    assert np.array_equal(filled[~mask], masked[~mask])
    err = lambda x: np.abs(x.astype(int) - truth.astype(int))[mask].mean()  # noqa: E731
    assert err(filled) < 0.1 * err(masked)
    assert np.array_equal(telea(masked[..., ::-1].copy(), mask), filled[..., ::-1])  # channel order is free


def _index(tmp_path: Path, splits: list[str], types: list[str] | None = None):
    from maskaway_cli.data.layout import read_dataset
    from maskaway_cli.data.toy import make_toy_dataset

    root = make_toy_dataset(tmp_path / "ds", n=len(splits), size=32)
    lines = [json.dumps({"id": f"{i:06d}", "split": s, **({"mask_type": types[i]} if types else {})})
             for i, s in enumerate(splits)]
    (root / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return read_dataset(root)


def test_empty_split_falls_back_with_a_note(tmp_path: Path) -> None:
    index = _index(tmp_path, ["train", "train", "val", "train"])
    notes = []
    name, chosen = choose_split(index, "test", reporter=lambda e, **f: notes.append(f.get("text")))
    assert (name, chosen) == ("val", [2]) and "'test'" in notes[0] and "'val'" in notes[0]
    notes.clear()
    index = _index(tmp_path / "2", ["train", "train"])
    assert choose_split(index, "test", reporter=lambda e, **f: notes.append(f.get("text")))[0] == "train"
    assert "training data" in notes[0]
    assert choose_split(index, "all") == ("all", [0, 1])
    with pytest.raises(UsageError, match="--split"):
        choose_split(index, "testing")


def test_limit_spreads_over_the_split_and_types_come_from_the_manifest(tmp_path: Path) -> None:
    index = _index(tmp_path, ["test"] * 9, types=["cloth"] * 5 + ["n95"] * 4)
    picked = select(index, index.split("test"), limit=3)
    assert [s.id for s in picked] == ["000000", "000004", "000008"]
    assert [s.mask_type for s in picked] == ["cloth", "cloth", "n95"]
    assert len(select(index, index.split("test"), limit=None)) == 9


def test_load_batch_resizes_to_model_size_and_skips_unreadable(tmp_path: Path) -> None:
    index = _index(tmp_path, ["test"] * 3)
    samples = select(index, [0, 1, 2], limit=None)
    samples[1].masked.write_bytes(b"not a png")
    batch = load_batch(samples, 64)
    assert batch.ids == ["000000", "000002"] and batch.masked.shape == (2, 64, 64, 3)
    assert batch.truth.shape == (2, 64, 64) and batch.truth.dtype == bool and batch.truth.any()
    assert batch.skipped[0][0] == "000001" and "\n" not in batch.skipped[0][1]


def test_mask_view_colours_hits_false_alarms_and_misses() -> None:
    pred = np.array([[1, 1, 0, 0]], bool)
    truth = np.array([[1, 0, 1, 0]], bool)
    v = mask_view(pred, truth)
    assert [tuple(c) for c in v[0]] == [HIT, FALSE_ALARM, MISSED, (0, 0, 0)]
