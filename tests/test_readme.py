"""The README's commands are true: its first command and its round trip run on a clean clone (they use
only the project's own ``examples/``), and ``.ci/run`` runs its test command."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _bash_blocks() -> list[list[str]]:
    return [[ln for ln in block.splitlines() if ln.strip()] for block in re.findall(r"```bash\n(.*?)```", README, re.S)]


def _run(command: str, cwd: Path, *extra: str) -> subprocess.CompletedProcess:
    """A ``maskaway ...`` command line of the README (plus ``extra``), run with this interpreter, in ``cwd``."""
    argv = shlex.split(command, comments=True)
    assert argv[0] == "maskaway", command
    return subprocess.run([sys.executable, "-m", "maskaway_cli", *argv[1:], *extra], cwd=cwd, capture_output=True,
                          text=True)


def _clean_clone(tmp_path: Path) -> Path:
    """What a new user has: the project's examples, and no ../shared beside it."""
    clone = tmp_path / "clone"
    clone.mkdir()
    (clone / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    return clone


def test_setup_commands_are_two_and_ci_runs_the_test_one():
    first, test = _bash_blocks()[0]
    assert len(_bash_blocks()[0]) == 2 and "../shared" not in first
    assert test in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_first_command_unmasks_the_examples(tmp_path):
    clone = _clean_clone(tmp_path)
    first = _bash_blocks()[0][0].split("&&")[-1].strip()
    proc = _run(first, clone)
    assert proc.returncode == 0, proc.stderr
    photos = sorted(p.name for p in (ROOT / "examples").glob("*.jpg"))
    out = clone / "out" / "unmasked"
    for name in photos:
        assert Image.open(out / name).size == Image.open(ROOT / "examples" / name).size
        assert (out / f"{name}.compare.jpg").is_file()


def test_round_trip_mask_then_unmask(tmp_path):
    clone = _clean_clone(tmp_path)
    mask_cmd, unmask_cmd = next(b for b in _bash_blocks() if b[0].startswith("maskaway mask"))[:2]
    proc = _run(mask_cmd, clone, "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["faces_masked"] >= 10 and summary["errors"] == []
    masked = sorted((clone / "out" / "masked").glob("*.jpg"))
    assert len(masked) == summary["photos_written"] == len(list((clone / "out" / "masked-masks").glob("*.png")))
    proc = _run(unmask_cmd, clone, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["masks_removed"] >= len(masked)
    assert sorted(p.name for p in (clone / "out" / "roundtrip").glob("*.jpg.compare.jpg")) == \
        sorted(f"{p.name}.compare.jpg" for p in masked)
