"""``maskaway unmask`` end to end: outputs, metadata, collisions, existing files, bad inputs."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from maskaway_cli.cli.app import app
from tests.helpers import FIXTURES, need
from tests.unmask_helpers import make_weights

runner = CliRunner()


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    w = make_weights(tmp_path_factory.mktemp("w"))
    return ["--weights", str(w["segmenter"]), "--weights", str(w["generator"])]


def _smooth(h, w, seed=0):
    import cv2

    small = np.random.default_rng(seed).integers(0, 255, (h // 8, w // 8, 3), dtype=np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


@pytest.fixture()
def aligned_inputs(tmp_path):
    """Aligned 'faces' (any picture: --aligned skips detection) with user masks over the lower half."""
    src, masks = tmp_path / "in", tmp_path / "masks"
    src.mkdir(), masks.mkdir()
    for i, name in enumerate(("a.png", "b.png")):
        Image.fromarray(_smooth(128, 128, i)).save(src / name)
        m = np.zeros((128, 128), np.uint8)
        m[70:115, 30:98] = 255
        Image.fromarray(m).save(masks / name)
    return src, masks


def _run(*args, input=None):
    return runner.invoke(app, ["unmask", *args], input=input, catch_exceptions=False)


def test_only_the_masked_region_changes_and_provenance_is_written(aligned_inputs, tmp_path, weights):
    src, masks = aligned_inputs
    out = tmp_path / "out"
    r = _run(str(src), "-o", str(out), "--aligned", "--mask-dir", str(masks), "--workers", "1", "--save-masks", "--json", *weights)
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["processed"] == 2 and summary["masks_removed"] == 2 and summary["errors"] == []
    before = np.asarray(Image.open(src / "a.png"))
    result = Image.open(out / "a.png")
    after = np.asarray(result)
    region = np.asarray(Image.open(out / "a.png.mask.png")) > 0
    assert np.array_equal(after[~region], before[~region])  # bit-identical outside
    assert (np.abs(after.astype(int) - before.astype(int)).sum(axis=2)[70:115, 30:98] > 0).mean() > 0.9
    assert not region[:60].any()  # nothing painted far above the given mask
    assert "plausible guess" in result.info["Description"] and "generator.safetensors" in result.info["Description"]
    r = _run(str(src), "-o", str(tmp_path / "o2"), "--aligned", "--mask-dir", str(masks), "--workers", "1",
             "--no-provenance", *weights)
    assert "Description" not in Image.open(tmp_path / "o2" / "a.png").info


def test_jpeg_keeps_quality_exif_and_icc(tmp_path, weights):
    src, masks = tmp_path / "in", tmp_path / "m"
    src.mkdir(), masks.mkdir()
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    exif[0x0112] = 6  # rotated: the loader applies it and the output resets it to 1
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(_smooth(96, 128)).save(src / "p.jpg", quality=83, subsampling=1, exif=exif.tobytes(),
                                           icc_profile=icc)  # 4:2:2: not what a fresh save would pick
    Image.fromarray(np.full((128, 96), 255, np.uint8)).save(masks / "p.png")  # (after rotation)
    r = _run(str(src), "-o", str(tmp_path / "o"), "--aligned", "--mask-dir", str(masks), "--workers", "1", *weights)
    assert r.exit_code == 0, r.output
    out = Image.open(tmp_path / "o" / "p.jpg")
    assert out.size == (96, 128) and out.info.get("icc_profile") == icc
    got = out.getexif()
    assert got[0x010F] == "TestCam" and got.get(0x0112, 1) == 1 and "MaskAway" in got[0x010E]
    from maskaway_cli.imageio import load_image

    written = load_image(tmp_path / "o" / "p.jpg")
    assert abs(written.jpeg_quality - 83) <= 2 and written.jpeg_subsampling == 1


def test_real_fixture_through_detection(tmp_path, weights):
    from maskaway_cli.faces.detect import DetectorConfig, make_detector
    from maskaway_cli.faces.landmarks import predict_landmarks
    from maskaway_cli.imageio import load_rgb
    from maskaway_cli.synth.compose import MaskSynthesizer, SynthOptions
    from maskaway_cli.synth.photo import mask_photo

    rgb = load_rgb(need(FIXTURES) / "london_004_neutral.jpg")
    box = make_detector(DetectorConfig())(rgb)[0].box
    masked = mask_photo(rgb, [predict_landmarks(rgb, box)], MaskSynthesizer(SynthOptions(types=("surgical",))),
                        np.random.default_rng(0))
    src, masks = tmp_path / "in", tmp_path / "m"
    src.mkdir(), masks.mkdir()
    Image.fromarray(masked.rgb).save(src / "face.png")
    Image.fromarray(masked.binary).save(masks / "face.png")
    r = _run(str(src), "-o", str(tmp_path / "o"), "--mask-dir", str(masks), "--workers", "2", "--save-masks",
             "--compare", "--json", *weights)
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["faces_found"] == 1 and s["masks_removed"] == 1
    after = np.asarray(Image.open(tmp_path / "o" / "face.png"))
    region = np.asarray(Image.open(tmp_path / "o" / "face.png.mask.png")) > 0
    assert np.array_equal(after[~region], masked.rgb[~region])
    truth = masked.binary > 0
    assert (region & truth).sum() / truth.sum() > 0.9  # the painted region covers the mask
    assert region.sum() < 2.0 * truth.sum()  # ... and not much more
    assert (tmp_path / "o" / "face.png.compare.jpg").is_file()


def test_mask_dir_mirrors_subfolders_of_the_input(tmp_path, weights):
    # photos/sub/a.png takes masks/sub/a.png, photos/a.png takes masks/a.png (as `maskaway mask` lays them out)
    src, masks = tmp_path / "in", tmp_path / "m"
    for folder in (src / "sub", masks / "sub"):
        folder.mkdir(parents=True)
    for sub, rows in ((Path(), slice(70, 115)), (Path("sub"), slice(10, 40))):
        Image.fromarray(_smooth(128, 128, len(str(sub)))).save(src / sub / "a.png")
        m = np.zeros((128, 128), np.uint8)
        m[rows, 30:98] = 255
        Image.fromarray(m).save(masks / sub / "a.png")
    r = _run(str(src), "-o", str(tmp_path / "o"), "--recursive", "--aligned", "--mask-dir", str(masks),
             "--workers", "1", "--save-masks", "--json", *weights)
    assert r.exit_code == 0, r.output
    top = np.asarray(Image.open(tmp_path / "o" / "a.png.mask.png")) > 0
    nested = np.asarray(Image.open(tmp_path / "o" / "sub" / "a.png.mask.png")) > 0
    assert top[70:115].any() and not top[:60].any()
    assert nested[10:40].any() and not nested[60:].any()


def test_name_collisions_all_survive(tmp_path, weights):
    d1, d2, out = tmp_path / "d1", tmp_path / "d2", tmp_path / "out"
    d1.mkdir(), d2.mkdir()
    for folder in (d1, d2):
        Image.fromarray(_smooth(64, 64)).save(folder / "a.jpg")
    Image.fromarray(_smooth(64, 64, 1)).save(d1 / "a.png")
    r = _run(str(d1), str(d2), "-o", str(out), "--workers", "1", "--aligned", "--save-masks", *weights)
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir() if ".mask" not in p.name) == ["a-2.jpg", "a.jpg", "a.png"]
    assert sorted(p.name for p in out.iterdir() if ".mask" in p.name) == ["a-2.jpg.mask.png", "a.jpg.mask.png", "a.png.mask.png"]


def test_existing_outputs_need_a_decision(aligned_inputs, tmp_path, weights):
    src, masks = aligned_inputs
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"mine")
    base = [str(src), "-o", str(out), "--aligned", "--mask-dir", str(masks), "--workers", "1", "--json", *weights]
    r = _run(*base)
    assert r.exit_code == 3 and (out / "a.png").read_bytes() == b"mine"
    assert "--overwrite" in json.loads(r.stdout)["errors"][0]["reason"]
    r = _run(*base, "--skip-existing")
    assert r.exit_code == 0 and (out / "a.png").read_bytes() == b"mine"
    assert len(json.loads(r.stdout)["skipped_existing"]) == 2  # b.png was written by the first run
    r = _run(*base, "--overwrite")
    assert r.exit_code == 0 and (out / "a.png").read_bytes() != b"mine"
    assert _run(*base, "--overwrite", "--skip-existing").exit_code == 2


def test_never_writes_into_an_input_folder(aligned_inputs, weights):
    src, _ = aligned_inputs
    before = sorted(p.name for p in src.rglob("*"))
    r = _run(str(src), "-o", str(src / "out"), "--workers", "1", *weights)
    assert r.exit_code == 2 and "inside input folder" in r.output
    r = _run(str(src), "-o", str(src), "--workers", "1", *weights)
    assert r.exit_code == 2
    assert sorted(p.name for p in src.rglob("*")) == before


def test_without_weights_says_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("MASKAWAY_HOME", str(tmp_path / "home"))
    monkeypatch.setattr("maskaway_cli.paths.bundled_weights_dir", lambda: tmp_path / "none")
    Image.fromarray(_smooth(64, 64)).save(tmp_path / "x.png")
    r = _run(str(tmp_path / "x.png"), "-o", str(tmp_path / "out"))
    assert r.exit_code == 1
    assert "maskaway train" in r.output and "maskaway fetch" in r.output and r.output.count("error:") == 1
    assert not (tmp_path / "out").exists()


def test_bad_inputs_each_get_one_line_and_the_batch_goes_on(tmp_path, weights):
    src = tmp_path / "src"
    src.mkdir()
    Image.fromarray(_smooth(64, 64)).save(src / "good.png")
    (src / "zero.jpg").write_bytes(b"")
    (src / "text.png").write_text("hello")
    good = (src / "good.png").read_bytes()
    (src / "cut.png").write_bytes(good[: len(good) // 2])
    Image.fromarray(_smooth(64, 64)).convert("CMYK").save(src / "cmyk.jpg")
    Image.fromarray((np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)).save(src / "deep.png")
    frames = [Image.fromarray(_smooth(64, 64, k)) for k in range(3)]
    frames[0].save(src / "anim.gif", save_all=True, append_images=frames[1:])
    Image.fromarray(_smooth(64, 64)).save(src / "visage_é.png")
    os.symlink(src / "gone.png", src / "dangling.png")
    r = _run(str(src), "-o", str(tmp_path / "out"), "--aligned", "--workers", "1", "--json", *weights)
    assert r.exit_code == 3, r.output
    s = json.loads(r.stdout)
    errors = {Path(e["input"]).name: e["reason"] for e in s["errors"]}
    assert set(errors) == {"zero.jpg", "text.png", "cut.png", "dangling.png"}
    assert all("\n" not in v for v in errors.values())
    assert "broken" in errors["dangling.png"]
    out = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"good.png", "cmyk.jpg", "deep.png", "anim.png", "visage_é.png"} <= out
    assert any("first of 3 frames" in n["note"] for n in s["notes"])
    assert not [p for p in (tmp_path / "out").rglob("*") if p.name.startswith(".")]  # no temp files


def test_paths_from_stdin(aligned_inputs, tmp_path, weights):
    src, masks = aligned_inputs
    listing = f"{src / 'a.png'}\n{src / 'b.png'}\n"
    r = _run("-", "-o", str(tmp_path / "o"), "--aligned", "--mask-dir", str(masks), "--workers", "1", "--json",
             *weights, input=listing)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["processed"] == 2


def test_faces_left_alone_or_unsure_are_listed(tmp_path, weights):
    """A face where no mask was found is never silent: --json lists it with its box and why."""
    src, masks = tmp_path / "in", tmp_path / "m"
    src.mkdir(), masks.mkdir()
    portrait = Path(__file__).resolve().parents[1] / "examples" / "cc0_lisa2.jpg"
    shutil.copy(portrait, src / "p.jpg")
    Image.fromarray(np.zeros((800, 600), np.uint8)).save(masks / "p.png")  # "no mask here"
    r = _run(str(src), "-o", str(tmp_path / "o"), "--mask-dir", str(masks), "--workers", "1", "--json", *weights)
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["faces_found"] == 1 and summary["masks_removed"] == 0
    [face] = summary["faces_to_check"]
    assert face["status"] == "no mask found" and face["input"].endswith("p.jpg") and len(face["box"]) == 4
    plain = _run(str(src), "-o", str(tmp_path / "o2"), "--mask-dir", str(masks), "--workers", "1", *weights)
    assert "no mask found" in plain.output and "p.jpg" in plain.output


def test_face_reports_flag_unsure_masks():
    from maskaway_cli.unmask.pipeline import FaceOutput
    from maskaway_cli.unmask.stages import Face, face_reports

    blank = np.zeros((8, 8), np.uint8)
    faces = [Face(np.eye(2, 3), np.zeros((8, 8, 3), np.uint8), None, (1.0, 2.0, 3.0, 4.0)) for _ in range(3)]
    outputs = [FaceOutput(blank, np.zeros((8, 8, 3), np.uint8), 0.2, True, 0.95),  # sure: not listed
               FaceOutput(blank, np.zeros((8, 8, 3), np.uint8), 0.2, True, 0.55),  # painted, unsure
               FaceOutput(blank, np.zeros((8, 8, 3), np.uint8), 0.3, False, 0.6),  # seen, too unsure
               FaceOutput(blank, np.zeros((8, 8, 3), np.uint8), 0.0, False, 0.1)]  # nothing there
    faces.append(faces[0])
    assert [r["status"] for r in face_reports(faces, outputs)] == ["unsure", "unsure, left alone", "no mask found"]


def test_bad_min_presence_is_one_line_and_writes_nothing(aligned_inputs, weights, tmp_path):
    src, _ = aligned_inputs
    out = tmp_path / "out"
    r = _run(str(src), "-o", str(out), "--aligned", "--workers", "1", "--min-presence", "1.5", *weights)
    assert r.exit_code == 2 and "--min-presence" in r.output and r.output.count("error:") == 1
    assert not out.exists()
