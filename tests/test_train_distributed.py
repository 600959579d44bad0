"""``maskaway train seg|gan`` under ``torchrun --nproc-per-node 2`` on the CPU (gloo): one writer, the
global batch split over the ranks, an exact resume after a signal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from maskaway_cli.data.toy import make_toy_dataset

TINY = ["--batch-size", "4", "--width", "4", "--workers", "1", "--no-amp"]
GAN = ["gan", "--critic-steps", "2", "--critic-width", "0.0625", *TINY]


@pytest.fixture
def dataset(tmp_path, monkeypatch):
    monkeypatch.setenv("MASKAWAY_HOME", str(tmp_path / "home"))
    return make_toy_dataset(tmp_path / "ds", n=24, size=32)


def _torchrun(args: list[str], port: int) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
            "--master-port", str(port), "-m", "maskaway_cli", "train", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _weights(run: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(run / "weights.safetensors"))


def test_feeder_shards_partition_each_global_batch(dataset) -> None:
    from maskaway_cli.data.cache import open_packed
    from maskaway_cli.data.feeder import BatchFeeder
    from maskaway_cli.data.layout import read_dataset

    packed = open_packed(read_dataset(dataset), workers=1)
    rows = np.arange(len(packed.ids))
    whole = BatchFeeder(packed, rows, batch_size=8, seed=3, device="cpu")
    parts = [BatchFeeder(packed, rows, batch_size=8, seed=3, device="cpu", shard=(r, 2)) for r in range(2)]
    for pos in range(7):  # across an epoch boundary (24 rows / 8)
        a, b = (f.select(pos) for f in parts)
        assert len(a) == len(b) == 4
        assert np.array_equal(np.concatenate([a, b]), whole.select(pos))


def test_seg_under_torchrun_writes_once_with_the_global_batch(dataset, tmp_path) -> None:
    run = tmp_path / "run"
    proc = subprocess.run(_torchrun(["seg", str(dataset), "-o", str(run), "--steps", "6", *TINY], _free_port()),
                          capture_output=True, text=True, env=_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    config = json.loads((run / "config.json").read_text())
    assert (config["world_size"], config["rank_batch_size"], config["batch_size"]) == (2, 2, 4)
    lines = [json.loads(x) for x in (run / "stats.jsonl").read_text().splitlines()]
    steps = [x["step"] for x in lines if "epoch" not in x]
    assert steps == sorted(set(steps))  # one writer: no step logged twice
    assert (run / "weights.safetensors").is_file()
    assert proc.stderr.count("finished at step 6") == 1  # rank 0 reports, rank 1 stays quiet
    ck = torch.load(run / "checkpoints" / "ckpt-0000006.pt", weights_only=True)
    assert len(ck["rng_ranks"]) == 2 and not torch.equal(ck["rng_ranks"][0]["torch"], ck["rng_ranks"][1]["torch"])


def test_gan_under_torchrun_resumes_exactly_after_a_signal(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MASKAWAY_HOME", str(tmp_path / "home"))
    dataset = make_toy_dataset(tmp_path / "ds", n=160, size=32)  # 120 to train on: 10 steps an epoch
    steps = ["--steps", "200"]
    whole = tmp_path / "whole"
    proc = subprocess.run(_torchrun([*GAN[:1], str(dataset), "-o", str(whole), *steps, *GAN[1:]], _free_port()),
                          capture_output=True, text=True, env=_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]

    # the same run, stopped with SIGTERM partway: every rank stops at the same step and rank 0 checkpoints
    part = tmp_path / "part"
    cmd = _torchrun([*GAN[:1], str(dataset), "-o", str(part), *steps, *GAN[1:]], _free_port())
    runner = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not _logged_step(part, 50):
        time.sleep(0.05)
    runner.send_signal(signal.SIGTERM)
    _, err = runner.communicate(timeout=120)
    ckpts = sorted((part / "checkpoints").glob("ckpt-*.pt"))  # (the last of the kept ones)
    assert ckpts, err[-3000:]
    stopped_at = int(ckpts[-1].stem.split("-")[1])
    assert 50 <= stopped_at < 200, err[-3000:]
    assert torch.load(ckpts[-1], weights_only=True)["loop"]["step"] == stopped_at
    assert not (part / "weights.safetensors").exists()

    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    a, b = _weights(whole), _weights(part)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _logged_step(run: Path, step: int) -> bool:
    """Has the run logged ``step`` yet? (The last line may still be half written.)"""
    stats = run / "stats.jsonl"
    lines = [x for x in stats.read_text().splitlines() if x.endswith("}")] if stats.is_file() else []
    return bool(lines) and json.loads(lines[-1]).get("step", 0) >= step
