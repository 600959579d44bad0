"""CLI tree, info, paths, console: the foundation every command stands on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from typer.testing import CliRunner

from maskaway_cli import __version__, paths
from maskaway_cli.cli.app import app

runner = CliRunner()


def test_version_and_command_tree():
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.stdout.strip() == f"maskaway {__version__}"
    r = runner.invoke(app, ["--help"])
    for cmd in ("fetch", "generate", "train", "evaluate", "unmask", "info"):
        assert cmd in r.stdout
    r = runner.invoke(app, ["train", "--help"])
    assert "seg" in r.stdout and "gan" in r.stdout


def test_help_is_fast_and_imports_no_heavy_library():
    code = "import sys; from maskaway_cli.cli.app import app; print(sorted(m for m in ('torch','cv2','dlib','requests') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "maskaway_cli", "--help"], capture_output=True, check=True)
    assert time.perf_counter() - start < 5.0  # generous: a heavy import alone would take longer


def test_info_json_reports_versions_device_paths_and_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("MASKAWAY_HOME", str(tmp_path))
    (tmp_path / "data" / "weights").mkdir(parents=True)
    (tmp_path / "data" / "weights" / "mine.safetensors").write_bytes(b"abc")
    r = runner.invoke(app, ["info", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["schema_version"] == 1
    assert doc["versions"]["maskaway"] == __version__ and doc["versions"]["torch"] != "not installed"
    assert "cuda" in doc["device"] and doc["paths"]["cache"] == str(tmp_path / "cache")
    mine = [w for w in doc["weights"] if w["name"] == "mine"]
    assert mine and mine[0]["sha256"] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_paths_follow_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("MASKAWAY_HOME", raising=False)
    monkeypatch.delenv("MASKAWAY_CACHE_DIR", raising=False)
    assert "maskaway" in str(paths.cache_dir())
    monkeypatch.setenv("MASKAWAY_HOME", str(tmp_path))
    assert paths.data_dir() == tmp_path / "data" and paths.config_dir() == tmp_path / "config"
    monkeypatch.setenv("MASKAWAY_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert paths.cache_dir() == tmp_path / "elsewhere"
    for value, expected in (("1", True), ("yes", True), ("0", False), ("", False)):
        monkeypatch.setenv("MASKAWAY_OFFLINE", value)
        assert paths.offline() is expected


def test_plain_progress_survives_several_tasks(capsys):
    from maskaway_cli.console import RichReporter

    with RichReporter() as rep:  # stderr is not a terminal under pytest: plain lines
        for task in ("pack", "train"):
            rep("begin", task=task, total=2, description=task)
            rep("advance", task=task, n=2, loss=0.5)
            rep("end", task=task)
        rep("note", text="all done")
    err = capsys.readouterr().err
    assert "pack: done 2" in err and "train: done 2" in err and "all done" in err


def test_json_output_has_no_colour_codes_even_with_force_color(tmp_path):
    env = {**os.environ, "FORCE_COLOR": "1", "MASKAWAY_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "maskaway_cli", "info", "--json"], capture_output=True,
                         text=True, env=env, check=True).stdout
    assert "\x1b[" not in out and json.loads(out)["schema_version"] == 1
