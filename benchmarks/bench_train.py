"""Training throughput: the packed/AMP path of ``maskaway train`` against a plain reference loop.

Prints images/s through segmentation steps and through critic steps (generator forward + critic
forward/backward + gradient penalty), at 64 px, batch 16 and 64, on the available device, for:

- reference: the same models and step code, batches from a ``DataLoader`` decoding PNGs per image,
  fp32, contiguous (NCHW) tensors;
- packed: what training runs: the memory-mapped uint8 cache and ``BatchFeeder`` (GPU-resident on
  CUDA), channels-last, bf16 autocast on CUDA.

Then, in a child process, the peak resident memory while feeding batches from a 100,000-sample 64 px
packed cache (a sparse file: it takes no disk), to show the cache is mapped, not loaded.

    python benchmarks/bench_train.py [--dataset DIR] [--samples 256] [--steps 5] [--device auto]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _compare(runs, device: torch.device, n: int, batch_size: int, warmup: int = 3) -> tuple[float, float]:
    """images/s of each ``(step, batches)`` pair. Steps alternate between the two paths and the median
    step time counts, so load from other processes on a shared machine hits both alike. The first
    ``warmup`` steps are untimed (oneDNN/cuDNN choose kernels there)."""
    times: list[list[float]] = [[] for _ in runs]
    for i in range(warmup + n):
        for k, (step, batches) in enumerate(runs):
            _sync(device)
            t = time.perf_counter()
            step(next(batches))  # getting the batch counts: that is where the two paths differ
            _sync(device)
            if i >= warmup:
                times[k].append(time.perf_counter() - t)
    return tuple(batch_size / float(np.median(ts)) for ts in times)  # type: ignore[return-value]


def _reference_batches(index, rows, batch_size: int, workers: int, device: torch.device):
    from maskaway_cli.data.feeder import Batch
    from maskaway_cli.data.pngset import PngTriplets

    loader = torch.utils.data.DataLoader(PngTriplets(index, rows), batch_size=batch_size, shuffle=True,
                                         drop_last=True, num_workers=workers, persistent_workers=workers > 0)
    while True:
        for masked, original, mask in loader:
            yield Batch(masked.to(device), original.to(device), mask.to(device))


def _setups(args, kind: str, batch_size: int):
    """(cfg, packed Setup, reference Setup) for one benchmark row."""
    from dataclasses import replace

    from maskaway_cli.train.config import GanConfig, SegConfig
    from maskaway_cli.train.run import prepare

    cls = SegConfig if kind == "seg" else GanConfig
    cfg = cls(dataset=str(args.dataset), run_dir="", device=args.device, batch_size=batch_size, subset=None,
              workers=max(1, args.workers), base_channels=args.width)
    packed = prepare(cfg, lambda *a, **k: None)
    return cfg, packed, replace(packed, amp=False, channels_last=False)


def bench_seg(args, batch_size: int, index) -> tuple[float, float]:
    from maskaway_cli.data.feeder import BatchFeeder
    from maskaway_cli.models import Segmenter
    from maskaway_cli.train.run import BadStepGuard
    from maskaway_cli.train.seg import seg_arch, seg_step

    cfg, fast, ref = _setups(args, "seg", batch_size)
    out = []
    for setup, batches in (
        (ref, _reference_batches(index, ref.train_rows, batch_size, args.workers, ref.device)),
        (fast, BatchFeeder(fast.packed, fast.train_rows, batch_size=batch_size, seed=0, device=fast.device,
                           channels_last=fast.channels_last).stream(0)),
    ):
        torch.manual_seed(0)
        fmt = torch.channels_last if setup.channels_last else torch.contiguous_format
        model = Segmenter(seg_arch(cfg, setup.packed.size)).to(setup.device, memory_format=fmt)
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        guard = BadStepGuard(10**9, None)
        out.append((lambda b, m=model, o=opt, s=setup, g=guard: seg_step(m, m, o, b, s, g, dice_weight=1.0),
                    batches))
    return _compare(out, fast.device, args.steps, batch_size)


def bench_critic(args, batch_size: int, index) -> tuple[float, float]:
    from maskaway_cli.data.feeder import BatchFeeder
    from maskaway_cli.train.gan import build_parts, critic_step
    from maskaway_cli.train.run import BadStepGuard

    cfg, fast, ref = _setups(args, "gan", batch_size)
    out = []
    for setup, batches in (
        (ref, _reference_batches(index, ref.train_rows, batch_size, args.workers, ref.device)),
        (fast, BatchFeeder(fast.packed, fast.train_rows, batch_size=batch_size, seed=0, device=fast.device,
                           channels_last=fast.channels_last).stream(0)),
    ):
        parts = build_parts(cfg, setup)
        guard = BadStepGuard(10**9, None)
        out.append((lambda b, p=parts, g=guard: critic_step(p, b, 0.1, g), batches))
    return _compare(out, fast.device, args.steps, batch_size)


def memory_probe(n: int, size: int, batches: int) -> None:
    """Child process: feed ``batches`` batches of 64 from an n-sample sparse packed cache; print RSS."""
    from maskaway_cli.data.cache import Packed, map_array
    from maskaway_cli.data.feeder import BatchFeeder

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, shape in (("masked", (n, size, size, 3)), ("original", (n, size, size, 3)),
                            ("binary", (n, size, size))):
            np.lib.format.open_memmap(folder / f"{name}.npy", "w+", np.uint8, shape).flush()  # sparse
        load = lambda name: map_array(folder / f"{name}.npy")  # noqa: E731  (as open_packed maps them)
        packed = Packed(load("masked"), load("original"), load("binary"), tuple(map(str, range(n))),
                        ("train",) * n, folder)
        before = _rss()
        feeder = BatchFeeder(packed, np.arange(n), batch_size=64, seed=0, device=torch.device("cpu"))
        stream = feeder.stream(0)
        for _ in range(batches):
            next(stream)
        after = _rss()
        cache_mb = n * size * size * 7 / 2**20
        print(f"memory: {n:,} samples at {size}px = {cache_mb:,.0f} MiB packed; after {batches} batches of 64: "
              f"RSS {after['VmRSS']:,.0f} MiB (+{after['VmRSS'] - before['VmRSS']:,.0f}), anonymous "
              f"{after['RssAnon']:,.0f} MiB (+{after['RssAnon'] - before['RssAnon']:,.0f}), file-backed pages "
              f"{after['RssFile']:,.0f} MiB (reclaimable); peak {after['VmHWM']:,.0f} MiB")


def _rss() -> dict[str, float]:
    """Resident memory figures of this process in MiB (Linux /proc; zeros elsewhere)."""
    out = {"VmRSS": 0.0, "RssAnon": 0.0, "RssFile": 0.0, "VmHWM": 0.0}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in out:
                out[key] = int(value.split()[0]) / 1024
    except OSError:
        pass
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", type=Path, help="dataset folder (default: a procedural toy set)")
    ap.add_argument("--samples", type=int, default=256, help="toy samples when no --dataset")
    ap.add_argument("--steps", type=int, default=5, help="timed steps per row")
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 64])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--workers", type=int, default=0,
                    help="reference DataLoader worker processes (default 0: decode in the loop; workers would "
                         "keep decoding during the alternating packed steps and slow those down instead)")
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--memory-samples", type=int, default=100_000)
    ap.add_argument("--memory-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_only:
        memory_probe(args.memory_samples, 64, 200)
        return

    from maskaway_cli.data.layout import read_dataset
    from maskaway_cli.data.toy import make_toy_dataset
    from maskaway_cli.train.run import resolve_device

    tmp = tempfile.TemporaryDirectory()
    os.environ.setdefault("MASKAWAY_HOME", str(Path(tmp.name) / "home"))  # the packed cache goes there
    if args.dataset is None:
        args.dataset = make_toy_dataset(Path(tmp.name) / "ds", n=args.samples, size=64, splits=(1.0, 0.0))
    index = read_dataset(args.dataset)
    device = resolve_device(args.device)
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    print(f"device: {name}; torch {torch.__version__}; {len(index.samples)} samples at 64 px; "
          f"{args.steps} timed steps; reference DataLoader workers {args.workers}")
    print(f"{'steps':<8}{'batch':>6}{'reference img/s':>18}{'packed img/s':>15}{'speed-up':>10}")
    for kind, fn in (("seg", bench_seg), ("critic", bench_critic)):
        for bs in args.batch_sizes:
            ref, fast = fn(args, bs, index)
            print(f"{kind:<8}{bs:>6}{ref:>18.1f}{fast:>15.1f}{fast / ref:>9.2f}x", flush=True)
    subprocess.run([sys.executable, __file__, "--memory-only", "--memory-samples", str(args.memory_samples)],
                   check=False)
    tmp.cleanup()


if __name__ == "__main__":
    main()
