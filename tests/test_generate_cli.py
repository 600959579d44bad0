"""``maskaway generate`` end to end through the CLI."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from maskaway_cli.cli.app import app
from tests.helpers import FIXTURES, need

runner = CliRunner()
PHOTOS = ["london_001_neutral.jpg", "london_002_neutral.jpg", "cc0_lisa2.jpg"]


def _gen(*args: str):
    return runner.invoke(app, ["generate", *args], catch_exceptions=False)


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture()
def photos(tmp_path):
    src = tmp_path / "photos"
    src.mkdir()
    for name in PHOTOS:
        shutil.copy(need(FIXTURES) / name, src / name)
    return src


def _records(ds: Path) -> list[dict]:
    return [json.loads(line) for line in (ds / "manifest.jsonl").read_text().splitlines()]


def test_generate_writes_aligned_triplets_and_a_manifest(photos, tmp_path):
    ds = tmp_path / "ds"
    result = _gen(str(photos), "-o", str(ds), "--workers", "1", "--per-face", "2", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["schema_version"] == 1 and summary["images_read"] == 3
    records = _records(ds)
    assert len(records) == summary["samples_written"] == 2 * summary["faces_found"] >= 6
    for r in records:
        assert len(r["landmarks"]) == 68 and len(r["box"]) == 4 and r["mask_type"]
        assert r["split"] in {"train", "val", "test"}
        orig, masked = (np.asarray(Image.open(ds / k / f"{r['id']}.png")) for k in ("original", "masked"))
        binary = np.asarray(Image.open(ds / "binary" / f"{r['id']}.png"))
        assert orig.shape == masked.shape == (64, 64, 3) and binary.shape == (64, 64)
        assert set(np.unique(binary)) <= {0, 255}
        covered = binary == 255
        assert 0.1 < covered.mean() < 0.7  # a mask over the lower face, not nothing, not everything
        assert covered[48:].mean() > covered[:16].mean()  # low in the crop, not on the forehead
        diff = np.abs(orig.astype(int) - masked.astype(int)).sum(axis=2)
        assert diff[covered].mean() > 5 * max(diff[~covered].mean(), 1.0)
    # both masked versions of one face share the original and the split
    by_face = {}
    for r in records:
        by_face.setdefault((r["source"], r["face"]), []).append(r)
    for group in by_face.values():
        assert len({r["split"] for r in group}) == 1
        assert (ds / "original" / f"{group[0]['id']}.png").read_bytes() == (ds / "original" / f"{group[1]['id']}.png").read_bytes()
    info = json.loads((ds / "dataset.json").read_text())
    assert info["complete"] and info["size"] == 64 and info["counts"]["samples"] == len(records)


def test_output_is_identical_whatever_the_worker_count(photos, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert _gen(str(photos), "-o", str(a), "--workers", "1", "--seed", "7").exit_code == 0
    proc = subprocess.run([sys.executable, "-m", "maskaway_cli", "generate", str(photos), "-o", str(b),
                           "--workers", "2", "--seed", "7"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert _tree(a) == _tree(b)
    c = tmp_path / "c"
    assert _gen(str(photos), "-o", str(c), "--workers", "1", "--seed", "8").exit_code == 0
    masked_a = {k: v for k, v in _tree(a).items() if k.startswith("masked/")}
    masked_c = {k: v for k, v in _tree(c).items() if k.startswith("masked/")}
    assert masked_a.keys() == masked_c.keys() and masked_a != masked_c  # another seed, other masks


@pytest.mark.parametrize("size", [128, 256])
def test_larger_sizes_work(photos, tmp_path, size):
    ds = tmp_path / "ds"
    assert _gen(str(photos / PHOTOS[0]), "-o", str(ds), "--size", str(size), "--workers", "1").exit_code == 0
    assert Image.open(ds / "masked" / "000000.png").size == (size, size)


def test_resume_after_a_simulated_crash_gives_the_uninterrupted_result(photos, tmp_path):
    full, crashed = tmp_path / "full", tmp_path / "crashed"
    assert _gen(str(photos), "-o", str(full), "--workers", "1", "--per-face", "2").exit_code == 0
    reference = _tree(full)
    shutil.copytree(full, crashed)
    lines = (crashed / "manifest.jsonl").read_text().splitlines(keepends=True)
    # killed while appending the second source: its first line whole, its second torn
    (crashed / "manifest.jsonl").write_text("".join(lines[:3]) + lines[3][:20])
    (crashed / "masked" / lines[4][8:14]).with_suffix(".png").unlink(missing_ok=True)
    (crashed / "masked" / ".000009.png.123.tmp").write_bytes(b"half")
    info = json.loads((crashed / "dataset.json").read_text())
    (crashed / "dataset.json").write_text(json.dumps({**info, "complete": False}))
    result = _gen(str(photos), "-o", str(crashed), "--workers", "1", "--per-face", "2", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["samples_resumed"] == 2
    assert _tree(crashed) == reference


def test_resume_after_a_real_kill(tmp_path):
    src = tmp_path / "photos"
    src.mkdir()
    for k in range(4):
        for name in PHOTOS:
            shutil.copy(need(FIXTURES) / name, src / f"{k}_{name}")
    full, killed = tmp_path / "full", tmp_path / "killed"
    assert _gen(str(src), "-o", str(full), "--workers", "1").exit_code == 0
    cmd = [sys.executable, "-m", "maskaway_cli", "generate", str(src), "-o", str(killed), "--workers", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    manifest = killed / "manifest.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not manifest.exists() or manifest.stat().st_size < 2000):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(_records(killed)) < len(_records(full))  # it really was stopped part-way
    assert _gen(str(src), "-o", str(killed), "--workers", "1").exit_code == 0
    assert _tree(killed) == _tree(full)


def test_ctrl_c_exits_130_and_keeps_a_resumable_dataset(photos, tmp_path):
    ds = tmp_path / "ds"
    proc = subprocess.Popen([sys.executable, "-m", "maskaway_cli", "generate", str(photos), "-o", str(ds),
                             "--workers", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (ds / "manifest.jsonl").exists():
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, 130), err  # 0 only if it had already finished
    assert not [p for p in ds.rglob("*.tmp")]
    assert _gen(str(photos), "-o", str(ds), "--workers", "1").exit_code == 0
    assert json.loads((ds / "dataset.json").read_text())["complete"]


def test_archives_are_sources_too(photos, tmp_path):
    archive = tmp_path / "faces.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(photos / PHOTOS[1], f"inner/{PHOTOS[1]}")
    ds = tmp_path / "ds"
    assert _gen(str(archive), "-o", str(ds), "--workers", "1").exit_code == 0
    assert _records(ds)[0]["source"] == f"{archive.as_posix()}/inner/{PHOTOS[1]}"


def test_preview_contact_sheet(photos, tmp_path):
    ds, sheet = tmp_path / "ds", tmp_path / "sheet.png"
    assert _gen(str(photos), "-o", str(ds), "--workers", "1", "--preview", str(sheet)).exit_code == 0
    w, h = Image.open(sheet).size
    assert w >= 4 * 3 * 128 and h >= 128


def test_split_groups_samples_by_source(photos, tmp_path):
    ds = tmp_path / "ds"
    assert _gen(str(photos), "-o", str(ds), "--workers", "1", "--per-face", "3", "--split", "0.34,0.33,0.33").exit_code == 0
    per_source = {}
    for r in _records(ds):
        per_source.setdefault(r["source"], set()).add(r["split"])
    assert all(len(s) == 1 for s in per_source.values())


def test_masktheface_templates_pool_with_ours(photos, tmp_path):
    from tests.helpers import MASKTHEFACE

    ds = tmp_path / "ds"
    r = _gen(str(photos), "-o", str(ds), "--workers", "1", "--per-face", "6", "--templates", str(need(MASKTHEFACE)),
             "--types", "surgical_blue,KN95", "--colors", "random", "--textures", "dots")
    assert r.exit_code == 0, r.output
    records = _records(ds)
    assert {r["mask_type"] for r in records} <= {"surgical_blue", "KN95"}
    sources = {"mtf" if r["template"].startswith("mtf/") else "own" for r in records}
    assert sources == {"mtf", "own"}, {r["template"] for r in records}
    info = json.loads((ds / "dataset.json").read_text())
    assert info["settings"]["templates"].endswith("masktheface")
