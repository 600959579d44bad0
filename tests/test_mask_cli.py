"""``maskaway mask`` end to end through the CLI, on the project's own CC0 example photos (no ../shared)."""

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

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PORTRAIT = EXAMPLES / "cc0_lisa2.jpg"  # one unmasked face, 600x800
STREET = EXAMPLES / "maskdet_maksssksksss182.jpg"  # two people, ~50 px faces


def _mask(*args: str):
    return runner.invoke(app, ["mask", *args], catch_exceptions=False)


def _json(result) -> dict:
    assert result.exit_code in (0, 3), result.output
    return json.loads(result.stdout)


def _records(out: Path) -> dict[str, dict]:
    return {Path(r["source"]).name: r for r in map(json.loads, (out / "manifest.jsonl").read_text().splitlines())}


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture()
def photos(tmp_path) -> Path:
    """A folder with the portrait as JPEG and as PNG (lossless, to compare pixels), and a street photo."""
    src = tmp_path / "photos"
    (src / "street").mkdir(parents=True)
    shutil.copy(PORTRAIT, src / "portrait.jpg")
    Image.open(PORTRAIT).save(src / "lossless.png")
    shutil.copy(STREET, src / "street" / "two.jpg")
    return src


def test_whole_photos_keep_size_format_and_get_a_binary_mask_that_matches(photos, tmp_path):
    out = tmp_path / "out"
    summary = _json(_mask(str(photos), "-o", str(out), "--workers", "1", "--json"))
    assert summary["schema_version"] == 1 and summary["photos_read"] == summary["photos_written"] == 3
    assert summary["faces_masked"] >= 4 and summary["errors"] == [] and summary["masks"] == str(tmp_path / "out-masks")
    masks = tmp_path / "out-masks"
    for name, mask_name, fmt in (("portrait.jpg", "portrait.png", "JPEG"), ("lossless.png", "lossless.png", "PNG"),
                                 ("street/two.jpg", "street/two.png", "JPEG")):
        before, after, mask = Image.open(photos / name), Image.open(out / name), Image.open(masks / mask_name)
        assert after.size == before.size == mask.size and after.format == fmt and mask.mode == "L"
        assert set(np.unique(np.asarray(mask))) == {0, 255}
    before = np.asarray(Image.open(photos / "lossless.png")).astype(int)
    after = np.asarray(Image.open(out / "lossless.png")).astype(int)
    binary = np.asarray(Image.open(masks / "lossless.png")) == 255
    diff = np.abs(after - before).max(axis=2)
    assert diff[binary].mean() > 20  # the mask is drawn where the binary says
    assert diff[~binary].max() <= 16  # outside it at most the faint anti-aliased rim (COVER_ALPHA)
    ys, xs = np.nonzero(binary)
    assert 350 < ys.mean() < 600 and 200 < xs.mean() < 400  # on the lower face, not elsewhere
    records = _records(out)
    face = records["lossless.png"]["faces"][0]
    assert len(face["landmarks"]) == 68 and len(face["box"]) == 4 and face["mask_type"] and face["seed"]
    assert records["two.jpg"]["outputs"] == ["street/two.jpg"] and len(records["two.jpg"]["faces"]) == 2
    assert "drew synthetic face masks" in Image.open(out / "lossless.png").info["Description"]


def test_exif_orientation_and_tags_are_kept(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    upright = Image.open(PORTRAIT)
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    exif[0x0112] = 6  # stored rotated: a viewer turns it 90 degrees clockwise
    upright.transpose(Image.Transpose.ROTATE_90).save(src / "turned.jpg", quality=90, exif=exif.tobytes())
    assert _mask(str(src), "-o", str(out), "--workers", "1").exit_code == 0
    written = Image.open(out / "turned.jpg")
    assert written.size == upright.size == Image.open(tmp_path / "out-masks" / "turned.png").size
    tags = written.getexif()
    assert tags[0x010F] == "TestCam" and tags.get(0x0112, 1) == 1  # pixels upright, so orientation 1
    # the face was found upright: the mask lies below the eyes, in the photo as it is displayed
    landmarks = np.array(_records(out)["turned.jpg"]["faces"][0]["landmarks"])
    ys, _ = np.nonzero(np.asarray(Image.open(tmp_path / "out-masks" / "turned.png")) == 255)
    assert ys.mean() > landmarks[36:48, 1].mean() + 40


def test_types_all_writes_one_photo_per_type_and_keep_original(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    shutil.copy(PORTRAIT, src / "p.jpg")
    summary = _json(_mask(str(src), "-o", str(out), "--types", "all", "--keep-original", "--workers", "1", "--json"))
    from maskaway_cli.synth.templates import BUILTIN_TYPES

    assert summary["photos_written"] == len(BUILTIN_TYPES)
    for t in BUILTIN_TYPES:
        assert (out / f"p_{t}.jpg").is_file() and (tmp_path / "out-masks" / f"p_{t}.png").is_file()
    assert sorted(f["mask_type"] for f in _records(out)["p.jpg"]["faces"]) == sorted(BUILTIN_TYPES)
    original = np.asarray(Image.open(out / "p_original.jpg")).astype(int)
    assert np.abs(original - np.asarray(Image.open(PORTRAIT)).astype(int)).mean() < 2  # the unmasked photo
    assert not (tmp_path / "out-masks" / "p_original.png").exists()


def test_code_mixes_types_with_colours_and_textures(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative names: the draws depend on them, not on tmp_path
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    for k in range(6):
        shutil.copy(PORTRAIT, src / f"p{k}.jpg")
    code = "cloth-#e54294, surgical_blue, N95-checks"
    assert _mask("src", "-o", str(out), "--code", code, "--workers", "1").exit_code == 0
    looks = {(f["mask_type"], f["color"], f["texture"]) for r in _records(out).values() for f in r["faces"]}
    allowed = {("cloth", "#e54294", None), ("surgical_blue", None, None), ("N95", None, "checks")}
    assert looks <= allowed and len(looks) >= 2


def test_colours_and_textures_as_generate_spells_them(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    shutil.copy(PORTRAIT, src / "p.jpg")
    args = ["--types", "cloth", "--colors", "#00ff00", "--color-weight", "1", "--textures", "dots",
            "--texture-weight", "1", "--workers", "1"]
    assert _mask(str(src), "-o", str(out), *args).exit_code == 0
    face = _records(out)["p.jpg"]["faces"][0]
    assert (face["mask_type"], face["color"], face["texture"]) == ("cloth", "#00ff00", "dots")
    pixels = np.asarray(Image.open(out / "p.jpg")).astype(int)[np.asarray(Image.open(tmp_path / "out-masks" / "p.png")) == 255]
    assert (pixels[:, 1] > pixels[:, 0] + 30).mean() > 0.2  # green shows on the mask


def test_resume_skips_what_is_done_and_redoes_what_is_missing(photos, tmp_path):
    out = tmp_path / "out"
    assert _mask(str(photos), "-o", str(out), "--workers", "1").exit_code == 0
    first = _tree(out) | {f"m/{k}": v for k, v in _tree(tmp_path / "out-masks").items()}
    (out / "portrait.jpg").unlink()
    summary = _json(_mask(str(photos), "-o", str(out), "--workers", "1", "--json"))
    assert summary["photos_resumed"] == 2 and summary["photos_read"] == 1
    again = _tree(out) | {f"m/{k}": v for k, v in _tree(tmp_path / "out-masks").items()}
    assert {k: v for k, v in again.items() if k != "manifest.jsonl"} == {k: v for k, v in first.items() if k != "manifest.jsonl"}
    assert _json(_mask(str(photos), "-o", str(out), "--workers", "1", "--overwrite", "--json"))["photos_read"] == 3
    other = _mask(str(photos), "-o", str(out), "--workers", "1", "--seed", "5")
    assert other.exit_code == 2 and "other options (seed)" in other.output and "--overwrite" in other.output
    assert (out / "portrait.jpg").read_bytes() == first["portrait.jpg"]


def test_same_files_whatever_the_worker_count(photos, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert _mask(str(photos), "-o", str(a), "--workers", "1", "--seed", "3").exit_code == 0
    proc = subprocess.run([sys.executable, "-m", "maskaway_cli", "mask", str(photos), "-o", str(b), "--workers", "2",
                           "--seed", "3"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    strip = lambda t: {k: v for k, v in t.items() if k != "manifest.jsonl"}  # noqa: E731
    assert strip(_tree(a)) == strip(_tree(b)) and _tree(tmp_path / "a-masks") == _tree(tmp_path / "b-masks")
    assert _records(a) == _records(b)


def test_ctrl_c_exits_130_leaves_no_temp_file_and_resumes(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    for k in range(12):
        shutil.copy(PORTRAIT, src / f"p{k:02d}.jpg")
    proc = subprocess.Popen([sys.executable, "-m", "maskaway_cli", "mask", str(src), "-o", str(out), "--workers", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out / "manifest.jsonl").exists():
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, 130), err  # 0 only if it had already finished
    assert not list(tmp_path.rglob("*.tmp"))
    summary = _json(_mask(str(src), "-o", str(out), "--workers", "1", "--json"))
    assert summary["photos_resumed"] + summary["photos_read"] == 12
    assert len(list(out.glob("*.jpg"))) == len(list((tmp_path / "out-masks").glob("*.png"))) == 12
    assert json.loads((out / "mask.json").read_text())["complete"]


def test_bad_files_get_one_line_exit_3_and_nothing_half_written(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    shutil.copy(PORTRAIT, src / "good.jpg")
    (src / "broken.jpg").write_bytes(PORTRAIT.read_bytes()[:3000])
    (src / "notes.png").write_text("not an image")
    Image.fromarray(np.full((120, 160, 3), 90, np.uint8)).save(src / "wall.png")
    result = _mask(str(src), str(tmp_path / "missing.jpg"), "-o", str(out), "--workers", "1", "--json")
    assert result.exit_code == 3
    summary = json.loads(result.stdout)
    errors = {Path(e["input"]).name: e["reason"] for e in summary["errors"]}
    assert set(errors) == {"broken.jpg", "notes.png", "missing.jpg"}
    assert all(reason and "\n" not in reason for reason in errors.values())
    assert [Path(p).name for p in summary["photos_no_face"]] == ["wall.png"]
    assert sorted(p.name for p in out.iterdir()) == ["good.jpg", "manifest.jsonl", "mask.json"]
    assert sorted(p.name for p in (tmp_path / "out-masks").iterdir()) == ["good.png"]
    plain = _mask(str(src), "-o", str(tmp_path / "o2"), "--workers", "1")
    assert plain.exit_code == 3 and "error" in plain.output and "broken.jpg" in plain.output


def test_faces_that_cannot_be_masked_are_reported(tmp_path, monkeypatch):
    from maskaway_cli.errors import FaceError
    from maskaway_cli.synth.compose import MaskSynthesizer

    real = MaskSynthesizer.apply

    def refuse_right_face(self, face, landmarks, rng, **kw):
        if landmarks[:, 0].mean() > 200:  # the person on the right of the street photo
            raise FaceError("landmarks are degenerate: test")
        return real(self, face, landmarks, rng, **kw)

    monkeypatch.setattr(MaskSynthesizer, "apply", refuse_right_face)
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    shutil.copy(STREET, src / "two.jpg")
    summary = _json(_mask(str(src), "-o", str(out), "--workers", "1", "--json"))
    assert summary["faces_masked"] == 1 and summary["photos_written"] == 1
    [missed] = summary["faces_not_masked"]
    assert missed["reason"] == "landmarks are degenerate: test" and missed["box"][0] > 150
    assert _records(out)["two.jpg"]["not_masked"] == [{"box": missed["box"], "reason": missed["reason"]}]


def test_masks_folder_is_the_by_name_layout_unmask_reads(tmp_path):
    src, out = tmp_path / "src", tmp_path / "masked"
    src.mkdir()
    shutil.copy(PORTRAIT, src / "one.jpg")
    assert _mask(str(src), "-o", str(out), "--masks", str(tmp_path / "m"), "--workers", "1").exit_code == 0
    result = runner.invoke(app, ["unmask", str(out), "-o", str(tmp_path / "back"), "--mask-dir", str(tmp_path / "m"),
                                 "--workers", "1", "--save-masks", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["masks_removed"] == 1
    given = np.asarray(Image.open(tmp_path / "m" / "one.png")) == 255
    painted = np.asarray(Image.open(tmp_path / "back" / "one.jpg.mask.png")) > 0
    # unmask found the mask by name (else: "no mask named ...") and painted there; the ear loops that run
    # outside the aligned crop are the part it leaves
    assert painted[given].mean() > 0.6 and painted[~given].mean() < 0.02


def test_archives_collisions_and_the_input_folder_guard(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(PORTRAIT, src / "a.jpg")
    Image.open(PORTRAIT).save(src / "a.png")
    archive = tmp_path / "pack.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(PORTRAIT, "inner/z.jpg")
    out = tmp_path / "out"
    assert _mask(str(src), str(archive), "-o", str(out), "--workers", "1").exit_code == 0
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.*") if p.suffix != ".json" and p.suffix != ".jsonl") \
        == ["a-2.png", "a.jpg", "inner/z.jpg"]
    assert sorted(p.name for p in (tmp_path / "out-masks").rglob("*.png")) == ["a-2.png", "a.png", "z.png"]
    inside = _mask(str(src), "-o", str(src / "out"), "--workers", "1")
    assert inside.exit_code == 2 and "inside input folder" in inside.output and not (src / "out").exists()


@pytest.mark.parametrize("args, says", [
    (["--types", "all,surgical"], "stand alone"),
    (["--types", "nope"], "unknown mask type"),
    (["--code", "cloth-#12345"], "neither a colour"),
    (["--code", "cloth", "--types", "N95"], "exclude each other"),
    (["--color-weight", "2"], "between 0 and 1"),
])
def test_bad_options_are_usage_errors_before_any_output(tmp_path, args, says):
    result = _mask(str(PORTRAIT), "-o", str(tmp_path / "out"), *args)
    assert result.exit_code == 2 and says in result.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "out-masks").exists()


def test_random_verbose_and_masktheface_templates(tmp_path, monkeypatch):
    from tests.helpers import MASKTHEFACE, need

    templates = need(MASKTHEFACE).resolve()
    monkeypatch.chdir(tmp_path)  # relative names: the draws depend on them, not on tmp_path
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    for k in range(4):
        shutil.copy(PORTRAIT, src / f"p{k}.jpg")
    result = _mask("src", "-o", str(out), "--types", "random", "--templates", str(templates),
                   "--verbose", "--workers", "1")
    assert result.exit_code == 0, result.output
    faces = [f for r in _records(out).values() for f in r["faces"]]
    assert len(faces) == 4 and len({f["mask_type"] for f in faces}) >= 2  # random: a type drawn per face
    assert {f["template"].startswith("mtf/") for f in faces} == {True, False}  # both sets pooled
    for k in range(4):  # --verbose: a line per photo, naming its masks
        assert f"p{k}.jpg: 1 mask(s): " in result.output
    assert json.loads((out / "mask.json").read_text())["settings"]["templates"].endswith("masktheface")
