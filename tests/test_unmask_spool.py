"""Photos parked between unmask's two worker stages (``unmask/spool.py``)."""

from __future__ import annotations

import signal
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from maskaway_cli.cli.app import app
from maskaway_cli.unmask.spool import spool, unspool
from tests.unmask_helpers import make_weights


def test_spool_round_trip_deletes_the_file(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 255, (37, 53, 3), dtype=np.uint8)
    ref = spool(rgb, tmp_path)
    assert ref is not None and Path(ref.path).parent == tmp_path
    back = unspool(ref)
    assert back.dtype == np.uint8 and np.array_equal(back, rgb)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(OSError):
        unspool(ref)  # gone once taken


def test_spool_failure_leaves_nothing_and_says_none(tmp_path):
    assert spool(np.zeros((4, 4, 3), np.uint8), tmp_path / "missing") is None
    assert list(tmp_path.iterdir()) == []


def _rgba_inputs(folder: Path) -> None:
    folder.mkdir()
    rng = np.random.default_rng(3)
    for i in range(3):
        rgba = rng.integers(0, 255, (96, 80, 4), dtype=np.uint8)
        Image.fromarray(rgba).save(folder / f"p{i}.png")


def test_stage_a_parks_the_pixels_and_stage_b_takes_them(tmp_path):
    from maskaway_cli.unmask.plan import Job, UnmaskConfig
    from maskaway_cli.unmask.stages import finish, init_worker, prepare

    _rgba_inputs(tmp_path / "in")
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    config = UnmaskConfig(inputs=(str(tmp_path / "in"),), output=tmp_path / "out", aligned=True)
    before = signal.getsignal(signal.SIGINT)
    try:
        init_worker(config, 64, spool_dir)
        job = Job(tmp_path / "in" / "p0.png", tmp_path / "out" / "p0.png")
        prepared = prepare((0, job))
    finally:
        signal.signal(signal.SIGINT, before)
    assert prepared.error is None and prepared.spooled is not None
    assert prepared.image.rgb.size == 0 and prepared.image.alpha is None  # no pixels ride along
    spooled = [ref.path for ref in prepared.spooled if ref is not None]
    assert sorted(Path(p).name for p in spooled) == sorted(p.name for p in spool_dir.iterdir())
    assert len(spooled) == 2  # rgb and alpha
    done = finish((prepared, [], "w"))
    assert done.error is None and list(spool_dir.iterdir()) == []
    written = np.asarray(Image.open(job.target))
    assert np.array_equal(written, np.asarray(Image.open(job.source)))  # no face: written unchanged


def test_workers_give_the_same_files_and_leave_no_spool(tmp_path, monkeypatch):
    w = make_weights(tmp_path / "w")
    weights = ["--weights", str(w["segmenter"]), "--weights", str(w["generator"])]
    _rgba_inputs(tmp_path / "in")
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    runner = CliRunner()
    outputs = {}
    for workers in ("1", "2"):
        out = tmp_path / f"out{workers}"
        r = runner.invoke(app, ["unmask", str(tmp_path / "in"), "-o", str(out), "--aligned", "--workers", workers,
                                *weights], catch_exceptions=False)
        assert r.exit_code == 0, r.output
        outputs[workers] = {p.name: p.read_bytes() for p in out.iterdir()}
    assert outputs["1"] == outputs["2"] and len(outputs["2"]) == 3
    assert list(temp.iterdir()) == []  # the spool folder went with the run


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_stopping_a_run_leaves_whole_outputs_and_no_spool(tmp_path, sig, code):
    import os
    import subprocess
    import sys
    import time

    w = make_weights(tmp_path / "w")
    src, out, temp = tmp_path / "in", tmp_path / "out", tmp_path / "tmp"
    src.mkdir(), temp.mkdir()
    rng = np.random.default_rng(5)
    photos = 400  # enough that the run is still going when the signal comes, even on a busy machine
    for i in range(photos):
        Image.fromarray(rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)).save(src / f"p{i:03d}.png")
    env = {**os.environ, "TMPDIR": str(temp), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "maskaway_cli", "unmask", str(src), "-o", str(out), "--aligned", "--workers", "2",
           "--weights", str(w["segmenter"]), "--weights", str(w["generator"])]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (out.is_dir() and any(out.glob("p*.png"))):
        time.sleep(0.05)
    assert any(temp.iterdir())  # the spool folder exists while the run goes on
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    written = sorted(out.iterdir())
    assert 0 < len(written) < photos  # stopped part-way ...
    for path in written:  # ... and every file there is a whole image, no temp file left
        assert path.suffix == ".png"
        Image.open(path).load()
    assert list(temp.iterdir()) == []


POOL_SCRIPT = """
import multiprocessing as mp, sys
from pathlib import Path
import numpy as np
from PIL import Image
from maskaway_cli.unmask.plan import Job, UnmaskConfig
from maskaway_cli.unmask.stages import init_worker, prepare

if __name__ == "__main__":
    root = Path(sys.argv[1])
    (root / "in").mkdir(parents=True), (root / "spool").mkdir()
    for i in range(8):
        Image.fromarray(np.full((64, 64, 3), i, np.uint8)).save(root / "in" / f"{i}.png")
    config = UnmaskConfig(inputs=(str(root / "in"),), output=root / "out", aligned=True, workers=2)
    jobs = [(i, Job(root / "in" / f"{i}.png", root / "out" / f"{i}.png")) for i in range(8)]
    for _ in range(10):
        with mp.get_context("spawn").Pool(2, initializer=init_worker, initargs=(config, 64, root / "spool")) as pool:
            pool.map(prepare, jobs)
"""


def test_pool_workers_stop_at_once_when_terminated(tmp_path):
    """The pool ends by sending SIGTERM to its workers, and waits for them: they must die at once (a
    Python-level SIGTERM handler in the workers printed tracebacks from exit handlers, and sometimes
    never ran at all, leaving the pool waiting for ever)."""
    import subprocess
    import sys

    script = tmp_path / "pool.py"
    script.write_text(POOL_SCRIPT)
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "run")], capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr


def test_sweep_removes_only_the_temp_files_of_unfinished_outputs(tmp_path):
    from maskaway_cli.imageio import atomic_write_bytes, stray_temp_files
    from maskaway_cli.unmask.plan import Job
    from maskaway_cli.unmask.run import _sweep

    out = tmp_path / "out"
    out.mkdir()
    atomic_write_bytes(out / "done.png", b"whole")  # a finished output, no temp file
    stray = [out / ".a[1].png.4242.0badcafe.tmp", out / ".a[1].png.compare.jpg.4242.0badcafe.tmp"]
    for path in stray:
        path.write_bytes(b"half")  # what a worker killed mid-write leaves
    keep = [out / "a[1].png.old", out / ".other.png.1.2.tmp"]
    for path in keep:
        path.write_bytes(b"not ours")
    assert stray_temp_files(out / "a[1].png") == [stray[0]]
    _sweep([Job(tmp_path / "a[1].png", out / "a[1].png")])
    assert sorted(p.name for p in out.iterdir()) == sorted(["done.png", *(p.name for p in keep)])
