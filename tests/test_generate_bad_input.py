"""Bad inputs to ``maskaway generate``: one line each, the run goes on, exit 3 for errors (no faces needed)."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from maskaway_cli.cli.app import app

runner = CliRunner()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a huge size: rejected from its header, never decoded."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _bad_folder(root: Path) -> Path:
    src = root / "src"
    src.mkdir()
    Image.fromarray(np.full((120, 160, 3), 128, np.uint8)).save(src / "blank.png")  # fine, but no face
    (src / "empty.jpg").write_bytes(b"")
    (src / "notes.jpg").write_text("this is not an image")
    good = src / "blank.png"
    (src / "truncated.png").write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    (src / "bomb.png").write_bytes(_png_header_only(40000, 40000))
    return src


def test_bad_files_are_skipped_with_reasons_and_exit_3(tmp_path):
    src = _bad_folder(tmp_path)
    ds = tmp_path / "ds"
    result = runner.invoke(app, ["generate", str(src), str(tmp_path / "nope"), "-o", str(ds), "--workers", "1", "--json"])
    assert result.exit_code == 3, result.output
    summary = json.loads(result.stdout)
    reasons = {Path(s["source"]).name: s for s in summary["skipped"]}
    assert set(reasons) == {"blank.png", "empty.jpg", "notes.jpg", "truncated.png", "bomb.png", "nope"}
    assert reasons["blank.png"] == {"source": reasons["blank.png"]["source"], "reason": "no face found", "error": False}
    for name in ("empty.jpg", "notes.jpg", "truncated.png", "bomb.png", "nope"):
        assert reasons[name]["error"] and "\n" not in reasons[name]["reason"]
    assert "too large" in reasons["bomb.png"]["reason"] or "limit" in reasons["bomb.png"]["reason"]
    assert (ds / "manifest.jsonl").read_text() == ""
    assert json.loads((ds / "dataset.json").read_text())["complete"]


def test_only_faceless_images_is_not_an_error(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    Image.fromarray(np.full((100, 100, 3), 200, np.uint8)).save(src / "wall.jpg")
    result = runner.invoke(app, ["generate", str(src), "-o", str(tmp_path / "ds"), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "no face found" in result.output


def test_output_that_is_a_file_fails_with_one_line_and_touches_nothing(tmp_path):
    src = _bad_folder(tmp_path)
    target = tmp_path / "dataset"
    target.write_text("precious")
    result = runner.invoke(app, ["generate", str(src), "-o", str(target)])
    assert result.exit_code == 1
    assert "not a folder" in result.output and result.output.count("error:") == 1
    assert target.read_text() == "precious"


def test_nothing_to_read_and_bad_options_are_usage_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, ["generate", str(empty), "-o", str(tmp_path / "ds")])
    assert result.exit_code == 2 and "no images" in result.output
    assert not (tmp_path / "ds").exists()
    for bad in (["--split", "0.5,0.5"], ["--size", "8"], ["--per-face", "0"], ["--types", "balaclava"]):
        result = runner.invoke(app, ["generate", str(empty), "-o", str(tmp_path / "ds2"), *bad])
        assert result.exit_code == 2, (bad, result.output)
        assert not (tmp_path / "ds2").exists()
