"""``maskaway evaluate`` end to end on a toy dataset with tiny random-weight models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from maskaway_cli.cli.app import app
from tests.helpers import FIXTURES, need
from tests.unmask_helpers import make_weights

runner = CliRunner()
METHODS = {"pipeline", "generator_true_mask", "baseline_masked_input", "baseline_telea"}


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    w = make_weights(tmp_path_factory.mktemp("w"))
    return ["--weights", str(w["segmenter"]), "--weights", str(w["generator"])]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """40 toy faces, test split = the last 5; two mask types so per-type tables have something to split."""
    from maskaway_cli.data.toy import make_toy_dataset

    root = make_toy_dataset(tmp_path_factory.mktemp("d") / "ds", n=40, size=64)
    lines = [json.loads(x) for x in (root / "manifest.jsonl").read_text().splitlines()]
    for i, doc in enumerate(lines):
        doc["mask_type"] = "cloth" if i % 2 else "surgical"
    (root / "manifest.jsonl").write_text("".join(json.dumps(d) + "\n" for d in lines))
    return root


def _run(*args):
    return runner.invoke(app, ["evaluate", *map(str, args)], catch_exceptions=False)


def _test_ids(root: Path) -> list[str]:
    docs = [json.loads(x) for x in (root / "manifest.jsonl").read_text().splitlines()]
    return [d["id"] for d in docs if d["split"] == "test"]


def test_report_files_json_and_baselines(dataset, weights, tmp_path):
    out = tmp_path / "ev"
    r = _run(dataset, "-o", out, "--json", "--samples", "3", *weights)
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report == json.loads((out / "report.json").read_text())  # --json prints the file's content
    assert report["schema_version"] == 1 and report["split"] == "test" and report["counts"]["samples"] == 5
    from maskaway_cli import paths

    bundled_presence = (paths.bundled_weights_dir() / "presence.safetensors").is_file()
    assert set(report["weights"]) == {"segmenter", "generator"} | ({"presence"} if bundled_presence else set())
    assert all(len(w["sha256"]) == 64 for w in report["weights"].values())
    crops = report["crops"]
    assert set(crops["inpainting"]["overall"]) == METHODS
    assert set(crops["segmentation"]["overall"]) == {"cleaned", "raw"}
    assert set(crops["inpainting"]["by_mask_type"]) == {"cloth", "surgical"}
    by_type = report["counts"]["by_mask_type"]
    assert by_type["cloth"]["samples"] + by_type["surgical"]["samples"] == 5
    for row in crops["inpainting"]["overall"].values():
        assert {"mask_l1", "mask_psnr", "mask_ssim", "full_l1", "full_psnr", "full_ssim"} <= set(row)
        assert row["n"] == 5
    md = (out / "report.md").read_text()
    assert "baseline_telea" in md and "Mask type `cloth`" in md and "| method | L1 in mask" in md
    sheet = np.asarray(Image.open(out / "samples.png"))
    assert sheet.shape == (2 * (128 + 6), 2 * (4 * 128 + 6), 3)  # 3 rows laid out 2 across, padded
    assert "baseline_telea" in r.stderr and "L1 in mask" in r.stderr  # the table on stderr


def test_numbers_match_a_direct_computation(dataset, weights, tmp_path):
    """The report's figures are the mean of per-face values computed straight from the files."""
    from maskaway_cli.data.io import read_binary, read_rgb
    from maskaway_cli.unmask.pipeline import Unmasker, resolve_weights

    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / "samples.png").write_bytes(b"an earlier run's sheet")
    r = _run(dataset, "-o", tmp_path / "ev", "--json", "--samples", "0", *weights)
    report = json.loads(r.stdout)
    assert not (tmp_path / "ev" / "samples.png").exists() and report["contact_sheet"] is None  # stale sheet gone
    ids = _test_ids(dataset)
    masked = [read_rgb(dataset / "masked" / f"{i}.png") for i in ids]
    original = [read_rgb(dataset / "original" / f"{i}.png").astype(float) for i in ids]
    truth = [read_binary(dataset / "binary" / f"{i}.png") > 0 for i in ids]
    per_face = [np.abs(m - o)[t].mean() / 255 for m, o, t in zip(masked, original, truth)]
    got = report["crops"]["inpainting"]["overall"]
    assert got["baseline_masked_input"]["mask_l1"] == pytest.approx(np.mean(per_face), rel=1e-5)
    unmasker = Unmasker(resolve_weights((weights[1], weights[3])), device="cpu")  # as the command resolves them
    outs = unmasker(masked)
    piped = [np.abs(o.result - g)[t].mean() / 255 for o, g, t in zip(outs, original, truth)]
    assert got["pipeline"]["mask_l1"] == pytest.approx(np.mean(piped), rel=1e-4)
    pred, true = np.stack([o.mask > 0 for o in outs]), np.stack(truth)
    iou = (pred & true).sum() / (pred | true).sum()
    assert report["crops"]["segmentation"]["overall"]["cleaned"]["iou"] == pytest.approx(iou)


def test_limit_split_fallback_and_release_layout(tmp_path, weights):
    from maskaway_cli.data.toy import make_toy_dataset

    root = make_toy_dataset(tmp_path / "ds", n=12, size=64, splits=(0.5, 0.5))  # no test split at all
    r = _run(root, "-o", tmp_path / "ev", "--json", "--limit", "2", "--samples", "1", *weights)
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert (report["split"], report["split_requested"], report["counts"]["samples"]) == ("val", "test", 2)
    assert "has no samples; evaluating on 'val'" in r.stderr
    release = make_toy_dataset(tmp_path / "rel", n=6, size=64, layout="release")
    r = _run(release, "-o", tmp_path / "ev2", "--split", "all", "--json", *weights)
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["dataset"]["layout"] == "release" and report["counts"]["samples"] == 6
    assert set(report["crops"]["inpainting"]["by_mask_type"]) == {"unknown"}


def test_faces_without_a_found_mask_are_measured_unchanged(dataset, tmp_path):
    """A segmenter that finds nothing: the pipeline returns the masked input, and is scored as such."""
    from maskaway_cli.evaluation.crops import measure_crops
    from maskaway_cli.evaluation.samples import select
    from maskaway_cli.data.layout import read_dataset
    from maskaway_cli.unmask.pipeline import Unmasker

    w = make_weights(tmp_path / "w")
    unmasker = Unmasker(w, device="cpu")
    import torch

    unmasker.segmenter = lambda x, pooled: (torch.full((x.shape[0], 1, *x.shape[2:]), -10.0),  # "no mask"
                                            torch.zeros(x.shape[0], 8))
    index = read_dataset(dataset)
    res = measure_crops(select(index, index.split("test"), limit=None), unmasker, batch_size=2)
    assert sum(res.no_mask.values()) == 5
    means = res.images.means(None)
    assert means["pipeline"] == means["baseline_masked_input"]
    assert means["generator_true_mask"]["mask_l1"] != means["pipeline"]["mask_l1"]
    assert res.seg.scores(None)["cleaned"]["recall"] == 0.0 and res.seg.scores(None)["raw"]["recall"] == 0.0


@pytest.mark.parametrize(("args", "code", "words"), [
    (["{missing}"], 1, "not found"),
    (["{tmp}"], 1, "not a dataset"),
    (["{ds}", "--split", "testing"], 2, "--split"),
    (["{ds}", "--batch-size", "0"], 2, "--batch-size"),
    (["{ds}", "--threshold", "1.5"], 2, "--threshold"),
    (["{ds}", "--limit", "0"], 2, "--limit"),
    (["{ds}", "--device", "tpu"], 2, "--device"),
    (["{ds}", "--photos", "{tmp}/empty"], 2, "no image files"),
    (["{ds}", "--weights", "{tmp}/nope.safetensors"], 1, "--weights"),
])
def test_bad_input_one_line_and_nothing_written(args, code, words, dataset, weights, tmp_path):
    (tmp_path / "empty").mkdir()
    out = tmp_path / "out"
    fill = {"missing": tmp_path / "missing", "tmp": tmp_path, "ds": dataset}
    r = _run(*[a.format(**fill) for a in args], "-o", out, *(weights if "--weights" not in args else []))
    assert r.exit_code == code, r.output
    assert words in r.output and r.output.count("error:") == 1 and "Traceback" not in r.output
    assert not out.exists()


def test_without_weights_says_how_to_get_them(dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("MASKAWAY_HOME", str(tmp_path / "home"))
    monkeypatch.setattr("maskaway_cli.paths.bundled_weights_dir", lambda: tmp_path / "none")
    r = _run(dataset, "-o", tmp_path / "out")
    assert r.exit_code == 1 and "maskaway train" in r.output and "maskaway fetch" in r.output
    assert not (tmp_path / "out").exists()


def test_output_that_is_a_file_and_unreadable_samples(dataset, weights, tmp_path):
    (tmp_path / "file").write_text("x")
    r = _run(dataset, "-o", tmp_path / "file", *weights)
    assert r.exit_code == 2 and "not a folder" in r.output and (tmp_path / "file").read_text() == "x"
    from maskaway_cli.data.toy import make_toy_dataset

    root = make_toy_dataset(tmp_path / "ds", n=16, size=64)  # test split: 2 faces
    test_ids = _test_ids(root)
    (root / "masked" / f"{test_ids[0]}.png").write_bytes(b"")
    r = _run(root, "-o", tmp_path / "ev", "--json", *weights)
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["skipped"][0]["id"] == test_ids[0] and report["counts"]["skipped"] == 1
    for i in test_ids[1:]:
        (root / "original" / f"{i}.png").write_text("broken")
    r = _run(root, "-o", tmp_path / "ev3", *weights)
    assert r.exit_code == 1 and "could be read" in r.output and not (tmp_path / "ev3").exists()


def test_full_photos_with_synthetic_masks(dataset, weights, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("london_004_neutral.jpg", "london_001_neutral.jpg"):
        (photos / name).symlink_to(need(FIXTURES) / name)
    Image.fromarray(np.full((80, 80, 3), 128, np.uint8)).save(photos / "blank.png")  # no face: skipped
    r = _run(dataset, "-o", tmp_path / "ev", "--photos", photos, "--limit", "1", "--samples", "0", "--json", *weights)
    assert r.exit_code == 0, r.output
    p = json.loads(r.stdout)["photos"]
    assert p["counts"]["photos"] == 2 and p["counts"]["faces_masked"] == 2 and p["counts"]["skipped"] == 1
    assert p["skipped"][0]["photo"] == "blank.png" and "no face" in p["skipped"][0]["reason"]
    assert set(p["inpainting"]["overall"]) == {"pipeline", "ceiling_true_face", "baseline_masked_input", "baseline_telea"}
    ceiling, pipe = p["inpainting"]["overall"]["ceiling_true_face"], p["inpainting"]["overall"]["pipeline"]
    assert ceiling["mask_psnr"] > pipe["mask_psnr"] and ceiling["identity"] == 1.0  # the true face, pasted
    base = p["inpainting"]["overall"]["baseline_masked_input"]
    assert base["mask_l1"] > 5 * base["full_l1"] > 0  # the mask is a small part of a whole photo
    for row in p["inpainting"]["overall"].values():  # photo-space detail and identity, every method
        assert row["mask_sharpness"] > 0 and 0 <= row["identity"] <= 1
    report = (tmp_path / "ev" / "report.md").read_text()
    assert "Full photos" in report and "PSNR gain over the masked input" in report


def test_run_pipeline_is_exactly_what_unmask_does(dataset, tmp_path):
    """evaluate runs the segmenter once and feeds the cleaned mask back; the outputs must equal the pipeline's."""
    from maskaway_cli.data.io import read_rgb
    from maskaway_cli.evaluation.crops import run_pipeline, seg_probs
    from maskaway_cli.unmask.pipeline import Unmasker

    crops = np.stack([read_rgb(dataset / "masked" / f"{i}.png") for i in _test_ids(dataset)])  # (5,64,64,3)
    unmasker = Unmasker(make_weights(tmp_path / "w", seed=3), device="cpu")
    probs = seg_probs(unmasker, crops)
    seen = set()
    for q in (0.5, 0.97, 0.995):  # big partial masks, small ones, too small to count
        threshold = float(np.quantile(probs, q))
        unmasker.threshold = threshold
        raw, mine = run_pipeline(unmasker, crops)
        theirs = unmasker(list(crops))
        assert np.array_equal(raw, probs >= threshold)
        for a, b in zip(mine, theirs):
            assert a.has_mask == b.has_mask and np.array_equal(a.mask, b.mask) and np.array_equal(a.result, b.result)
            seen.add(a.has_mask)
    assert seen == {True, False}  # both branches of the pipeline were compared
