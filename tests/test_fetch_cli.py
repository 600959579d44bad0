"""`maskaway fetch` end to end: JSON output, exit codes, one-line errors, nothing half-written."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest
from fetch_server import serve
from typer.testing import CliRunner

from maskaway_cli.cli.app import app

DATA = os.urandom(100_000)
SHA = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("MASKAWAY_HOME", str(tmp_path / "home"))
    for var in ("MASKAWAY_CACHE_DIR", "MASKAWAY_OFFLINE", "MASKAWAY_MIRROR", "MASKAWAY_GDRIVE_URL", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path / "home"


def invoke(*args):
    return CliRunner().invoke(app, ["fetch", *args])


def test_list_json_parses_even_with_force_color(home):
    env = {**os.environ, "FORCE_COLOR": "1", "TERM": "xterm-256color", "MASKAWAY_HOME": str(home)}
    proc = subprocess.run([sys.executable, "-m", "maskaway_cli", "fetch", "--list", "--json"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["schema_version"] == 1
    names = {a["name"]: a for a in doc["assets"]}
    assert {"lfw", "celeba", "maskaway-original"} == set(names)
    assert names["lfw"]["cached"] is False and names["celeba"]["checksum"] == "md5"


def test_url_with_sha256_then_verify(home, tmp_path):
    dest = tmp_path / "dl"
    with serve() as srv:
        srv.routes["/x.bin"] = lambda h: h.send_file(DATA)
        res = invoke("--url", f"{srv.url}/x.bin", "--sha256", SHA, "--dest", str(dest), "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["assets"][0]["files"][0]["sha256"] == SHA
    assert (dest / "x.bin").read_bytes() == DATA
    res = invoke("--verify", "--json", "--dest", str(dest))
    assert res.exit_code == 0 and json.loads(res.stdout)["verify"][0]["status"] == "ok"
    (dest / "x.bin").write_bytes(DATA[:-1] + b"!")
    res = invoke("--verify", "--dest", str(dest))
    assert res.exit_code == 1 and "corrupt" in res.stderr


def test_flipped_byte_exits_non_zero_installs_nothing(home, tmp_path):
    bad = bytearray(DATA)
    bad[500] ^= 0x01
    with serve() as srv:
        srv.routes["/x.bin"] = lambda h: h.send_file(bytes(bad))
        res = invoke("--url", f"{srv.url}/x.bin", "--sha256", SHA, "--dest", str(tmp_path / "dl"))
    assert res.exit_code == 1
    assert res.stderr.count("error:") == 1 and "does not verify" in res.stderr and "Traceback" not in res.stderr
    assert list((tmp_path / "dl").iterdir()) == []


def test_offline_cold_cache_fails_at_once(home, monkeypatch):
    monkeypatch.setenv("MASKAWAY_OFFLINE", "1")
    res = invoke("lfw")
    assert res.exit_code == 1 and "MASKAWAY_OFFLINE" in res.stderr and "not in the cache" in res.stderr


def test_usage_errors(home):
    assert invoke().exit_code == 2
    assert invoke("--sha256", SHA).exit_code == 2
    assert invoke("--list", "--verify").exit_code == 2
    res = invoke("no-such-asset")
    assert res.exit_code == 1 and "unknown asset 'no-such-asset'" in res.stderr


def test_partial_batch_exits_3(home, tmp_path):
    reg = tmp_path / "reg.toml"
    with serve() as srv:
        srv.routes["/ok.bin"] = lambda h: h.send_file(DATA)
        reg.write_text(f'[good]\nurls = ["{srv.url}/ok.bin"]\nsha256 = "{SHA}"\n'
                       f'[bad]\nurls = ["{srv.url}/missing.bin"]\n')
        res = invoke("good", "bad", "--registry", str(reg), "--json")
    assert res.exit_code == 3
    doc = json.loads(res.stdout)
    assert [a["ok"] for a in doc["assets"]] == [True, False] and "HTTP 404" in doc["assets"][1]["error"]
