"""Exact resume, signals, non-finite losses, and training on the original release layout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from maskaway_cli.data.toy import make_toy_dataset
from maskaway_cli.errors import TrainingError
from maskaway_cli.train.config import GanConfig, SegConfig
from maskaway_cli.train.gan import train_gan
from maskaway_cli.train.seg import train_seg
from maskaway_cli.train.state import GracefulStop

TINY = dict(batch_size=4, base_channels=4, workers=1, log_every=1)
GAN_TINY = dict(TINY, critic_steps=2, critic_width=0.0625)


@pytest.fixture
def dataset(tmp_path, monkeypatch):
    monkeypatch.setenv("MASKAWAY_HOME", str(tmp_path / "home"))
    return make_toy_dataset(tmp_path / "ds", n=24, size=32)


class StopAt:
    """A reporter that plays SIGTERM after ``n`` training steps (what GracefulStop.handle does)."""

    def __init__(self, stop: GracefulStop, n: int) -> None:
        self.stop, self.n, self.seen = stop, n, 0

    def __call__(self, event: str, /, **fields) -> None:
        if event == "advance" and fields.get("task") == "train":
            self.seen += 1
            if self.seen == self.n:
                self.stop.handle(signal.SIGTERM, None)


def _weights(run: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(run / "weights.safetensors"))


@pytest.mark.parametrize("kind", ["seg", "gan"])
def test_resume_is_exact(dataset, tmp_path, kind) -> None:
    cfg_cls, train = (SegConfig, train_seg) if kind == "seg" else (GanConfig, train_gan)
    extra = TINY if kind == "seg" else GAN_TINY
    # 18 train samples / batch 4 -> 4 batches an epoch: 7 steps cross epoch boundaries and validation
    steps = 7 if kind == "seg" else 5
    whole = train(cfg_cls(dataset=str(dataset), run_dir=str(tmp_path / "a"), steps=steps, **extra))
    assert whole.status == "finished"
    stop = GracefulStop()
    first = train(cfg_cls(dataset=str(dataset), run_dir=str(tmp_path / "b"), steps=steps, **extra),
                  reporter=StopAt(stop, 3), stop=stop)
    assert (first.status, first.step, first.signum) == ("interrupted", 3, signal.SIGTERM)
    assert not (tmp_path / "b" / "weights.safetensors").exists()
    counter = StopAt(GracefulStop(), 0)
    rest = train(cfg_cls(dataset=str(dataset), run_dir=str(tmp_path / "b"), steps=steps, **extra),
                 reporter=counter)
    assert (rest.status, rest.step) == ("finished", steps)
    assert counter.seen == steps - 3  # it resumed; it did not start again from step 0
    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    ca = torch.load(tmp_path / "a" / "checkpoints" / f"ckpt-{steps:07d}.pt", weights_only=True)
    cb = torch.load(tmp_path / "b" / "checkpoints" / f"ckpt-{steps:07d}.pt", weights_only=True)
    opt = "opt" if kind == "seg" else "opt_d"
    sa, sb = ca[opt]["state"], cb[opt]["state"]
    assert all(torch.equal(sa[i]["exp_avg"], sb[i]["exp_avg"]) for i in sa)
    assert torch.equal(ca["rng"]["torch"], cb["rng"]["torch"])


def test_keep_last_n_checkpoints(dataset, tmp_path) -> None:
    run = tmp_path / "run"
    train_seg(SegConfig(dataset=str(dataset), run_dir=str(run), steps=6, checkpoint_every=1, keep=2, **TINY))
    names = sorted(p.name for p in (run / "checkpoints").glob("ckpt-*.pt"))
    assert names == ["ckpt-0000005.pt", "ckpt-0000006.pt"]


def test_graceful_stop_handler_sets_the_flag_then_a_second_signal_interrupts() -> None:
    stop = GracefulStop()
    with stop:
        assert signal.getsignal(signal.SIGTERM) == stop.handle
        stop.handle(signal.SIGINT, None)
        assert stop.signum == signal.SIGINT
        with pytest.raises(KeyboardInterrupt):
            stop.handle(signal.SIGINT, None)
    assert signal.getsignal(signal.SIGTERM) != stop.handle  # handlers restored


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_in_a_subprocess_checkpoints_and_exits(dataset, tmp_path, sig, code) -> None:
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "maskaway_cli", "train", "gan", str(dataset), "-o", str(run), "--steps", "100000",
           "--batch-size", "4", "--width", "4", "--critic-steps", "1", "--critic-width", "0.0625", "--workers", "1"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        for line in proc.stderr:  # plain progress lines: stderr is not a TTY
            if line.startswith("Training GAN"):
                break
        time.sleep(0.5)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err
    assert "interrupted at step" in err
    ckpts = list((run / "checkpoints").glob("ckpt-*.pt"))
    assert ckpts
    step = torch.load(ckpts[-1], weights_only=True)["loop"]["step"]
    assert 1 <= step < 100000


def test_non_finite_losses_stop_with_a_crash_checkpoint(dataset, tmp_path, monkeypatch) -> None:
    import maskaway_cli.train.seg as seg

    real, calls = seg.bce_dice, {"n": 0}

    def poisoned(logits, target, **kw):
        calls["n"] += 1
        loss = real(logits, target, **kw)
        return loss * float("nan") if calls["n"] > 2 else loss

    monkeypatch.setattr(seg, "bce_dice", poisoned)
    run = tmp_path / "run"
    with pytest.raises(TrainingError, match="3 non-finite steps"):
        train_seg(SegConfig(dataset=str(dataset), run_dir=str(run), steps=20, checkpoint_every=1, **TINY))
    crash = list((run / "checkpoints").glob("crash-*.pt"))
    assert [p.name for p in crash] == ["crash-0000005.pt"]
    assert (run / "checkpoints" / "ckpt-0000002.pt").is_file()  # the last good one stays beside it
    ck = torch.load(crash[0], weights_only=True)
    assert all(torch.isfinite(v).all() for v in ck["model"].values() if v.is_floating_point())


def test_non_finite_critic_loss_stops_the_gan(dataset, tmp_path, monkeypatch) -> None:
    import maskaway_cli.train.gan as gan

    monkeypatch.setattr(gan, "critic_loss", lambda r, f: (f.mean() - r.mean()) * float("inf"))
    with pytest.raises(TrainingError, match="non-finite"):
        train_gan(GanConfig(dataset=str(dataset), run_dir=str(tmp_path / "run"), steps=5, **GAN_TINY))
    assert list((tmp_path / "run" / "checkpoints").glob("crash-*.pt"))


def test_original_release_layout_trains(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MASKAWAY_HOME", str(tmp_path / "home"))
    root = make_toy_dataset(tmp_path / "rel", n=40, size=32, layout="release")
    result = train_seg(SegConfig(dataset=str(root), run_dir=str(tmp_path / "run"), steps=2, **TINY))
    assert result.status == "finished" and result.weights.is_file()
