"""``maskaway train seg|gan`` end to end through the CLI on a tiny dataset (32 px, width 4)."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from maskaway_cli.cli.app import app
from maskaway_cli.data.toy import make_toy_dataset
from maskaway_cli.weights_io import load_model, read_meta

TINY = ["--batch-size", "4", "--width", "4", "--workers", "1"]
SEG = ["train", "seg", "--steps", "4", *TINY]
GAN = ["train", "gan", "--steps", "4", "--critic-steps", "2", "--critic-width", "0.0625", *TINY]


@pytest.fixture
def dataset(tmp_path, monkeypatch):
    monkeypatch.setenv("MASKAWAY_HOME", str(tmp_path / "home"))
    return make_toy_dataset(tmp_path / "ds", n=24, size=32)


def _run(args: list[str]):
    return CliRunner().invoke(app, args)


def _artifacts(run) -> None:
    for name in ("config.json", "stats.jsonl", "weights.safetensors"):
        assert (run / name).is_file(), name
    assert list((run / "samples").glob("*.png"))
    ckpts = sorted((run / "checkpoints").glob("ckpt-*.pt"))
    assert ckpts and ckpts[-1].name == "ckpt-0000004.pt"
    assert not list(run.rglob("*.tmp"))
    ck = torch.load(ckpts[-1], weights_only=True)  # no pickled objects
    assert ck["loop"]["step"] == 4
    lines = [json.loads(x) for x in (run / "stats.jsonl").read_text().splitlines()]
    assert lines and lines[-1]["step"] == 4


def test_train_seg_writes_every_artifact(dataset, tmp_path) -> None:
    run = tmp_path / "seg"
    res = _run([*SEG, str(dataset), "-o", str(run), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["status"] == "finished" and doc["step"] == 4
    assert {"val_iou", "val_dice", "val_precision", "val_recall"} <= set(doc["metrics"])
    _artifacts(run)
    assert (run / "checkpoints" / "best.pt").is_file()
    model, meta = load_model(run / "weights.safetensors", kind="segmenter")
    assert meta.image_size == 32 and model(torch.rand(1, 3, 32, 32)).shape == (1, 1, 32, 32)
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["kind"] == "seg" and cfg["arch"]["base_channels"] == 4 and cfg["resolved_device"] == "cpu"


def test_train_gan_writes_every_artifact_and_exports_the_ema(dataset, tmp_path) -> None:
    run = tmp_path / "gan"
    res = _run([*GAN, str(dataset), "-o", str(run)])
    assert res.exit_code == 0, res.output
    _artifacts(run)
    stats = [json.loads(x) for x in (run / "stats.jsonl").read_text().splitlines()]
    assert "val_psnr_mask" in stats[-1] and "gp" in stats[-1]
    model, meta = load_model(run / "weights.safetensors", kind="generator")
    ck = torch.load(run / "checkpoints" / "ckpt-0000004.pt", weights_only=True)
    ema, exported = ck["ema"], model.state_dict()
    params = {k for k, _ in model.named_parameters()}
    assert all(torch.equal(exported[k], ema[k]) for k in params)
    assert not all(torch.equal(ema[k], ck["gen"][k]) for k in params)  # the EMA, not the live weights
    # BatchNorm statistics are measured again on the EMA weights, not copied from the live ones
    means = [k for k in exported if k.endswith("running_mean")]
    assert means and not all(torch.equal(exported[k], ema[k]) for k in means)
    assert read_meta(run / "weights.safetensors").info["bn_recalibrated_batches"] > 0
    # --export rewrites the same weights from the checkpoint alone
    (run / "weights.safetensors").unlink()
    res = _run([*GAN, str(dataset), "-o", str(run), "--export"])
    assert res.exit_code == 0, res.output
    again, _ = load_model(run / "weights.safetensors", kind="generator")
    assert all(torch.equal(v, exported[k]) for k, v in again.state_dict().items())


def test_dry_run_prints_the_config_and_writes_nothing(dataset, tmp_path) -> None:
    res = _run([*GAN, str(dataset), "-o", str(tmp_path / "run"), "--dry-run"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["config"]["critic_steps"] == 2 and doc["config"]["gp_weight"] == 10.0
    assert doc["config"]["noise_std"] == 0.15 and doc["config"]["lr_floor"] == 1e-6
    assert doc["resolved_device"] == "cpu"
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("args,code,needle", [
    (["train", "seg", "{missing}", "-o", "{run}"], 1, "not found"),
    (["train", "gan", "{ds}", "-o", "{run}", "--augment", "blur"], 2, "unknown augmentation"),
    (["train", "seg", "{ds}", "-o", "{run}", "--batch-size", "500"], 1, "fewer than one batch"),
    (["train", "seg", "{ds}", "-o", "{run}", "--device", "tpu"], 2, "--device"),
    (["train", "gan", "{ds}", "-o", "{run}", "--export", "--batch-size", "4"], 1, "no checkpoint to export"),
])
def test_bad_input_is_one_line_and_writes_no_run(dataset, tmp_path, args, code, needle) -> None:
    fill = {"missing": str(tmp_path / "missing"), "run": str(tmp_path / "run"), "ds": str(dataset)}
    res = _run([a.format(**fill) for a in args])
    assert res.exit_code == code, res.output
    assert needle in res.output and "Traceback" not in res.output
    assert not (tmp_path / "run").exists()


def test_changed_architecture_on_resume_is_a_clear_error(dataset, tmp_path) -> None:
    run = tmp_path / "seg"
    assert _run([*SEG, str(dataset), "-o", str(run)]).exit_code == 0
    res = _run([*SEG, str(dataset), "-o", str(run), "--width", "8"])
    assert res.exit_code == 1
    assert "another architecture" in res.output and "base_channels: 4 -> 8" in res.output


def test_gan_warmup_trains_the_generator_on_l1_alone(dataset, tmp_path) -> None:
    """--warmup-steps: the critic stays untouched and no adversarial term reaches the generator."""
    warm, full = tmp_path / "warm", tmp_path / "full"
    assert _run([*GAN, str(dataset), "-o", str(warm), "--warmup-steps", "4", "--seed", "3"]).exit_code == 0
    assert _run([*GAN, str(dataset), "-o", str(full), "--seed", "3"]).exit_code == 0
    w = torch.load(warm / "checkpoints" / "ckpt-0000004.pt", weights_only=True)
    f = torch.load(full / "checkpoints" / "ckpt-0000004.pt", weights_only=True)
    # both runs start from the same seed; only the full run moved its critic
    first = next(k for k, v in w["critic"].items() if v.is_floating_point())
    assert not torch.equal(w["critic"][first], f["critic"][first])
    assert w["opt_d"]["state"] == {}  # the critic's optimizer never stepped
    stats = [json.loads(x) for x in (warm / "stats.jsonl").read_text().splitlines()]
    assert [s for s in stats if "g_adv" in s] and all(s["g_adv"] == 0.0 for s in stats if "g_adv" in s)
    assert not all(torch.equal(v, f["gen"][k]) for k, v in w["gen"].items())  # L1 alone trains differently
