"""Profile of the generator (issue 13): one training step and one inference, per architecture.

For each architecture it prints the parameter count, a 128 px inference (ms per face, batch 1 and
batch 8, EMA model in eval mode) and the training step phases (ms per step at ``--batch``): the L1
warm-up step, a critic step with the gradient penalty and the adversarial generator step with feature
matching and the high-frequency term. bf16 autocast where the CPU has it, channels_last, as training runs.

    python benchmarks/bench_gan_step.py [--size 128] [--batch 16] [--repeat 5]
"""

from __future__ import annotations

import argparse
import time

import torch

# name -> (size-independent) architecture knobs; "seed" is the seed's design at this size
ARCHS = {
    "seed (base 32, 4x4)": dict(base_channels=32, bottleneck=4, context=()),
    "default (base 16, 8x8, dil2+dil4+attn)": dict(base_channels=16, bottleneck=8, context=("dil2", "dil4", "attn")),
}


def timed(fn, repeat: int) -> float:
    fn()  # warm-up: allocator, oneDNN primitives
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat * 1000


def profile(name: str, knobs: dict, args) -> None:
    from maskaway_cli.data.feeder import Batch
    from maskaway_cli.device import bf16_is_fast
    from maskaway_cli.train.config import GanConfig
    from maskaway_cli.train.gan import BadStepGuard, build_parts, critic_step, generator_step
    from maskaway_cli.train.run import RunPaths, Setup

    device = torch.device("cpu")
    cfg = GanConfig(dataset="-", run_dir="-", critic_width=args.critic_width, fm_weight=1.0, hf_weight=1.0,
                    **knobs)
    packed = type("P", (), {"size": args.size})()
    setup = Setup(device, bf16_is_fast(device), True, packed, None, None)
    p = build_parts(cfg, setup)
    s, n = args.size, args.batch
    fmt = torch.channels_last
    y = torch.rand(n, 3, s, s).contiguous(memory_format=fmt)
    m = torch.zeros(n, 1, s, s)
    m[:, :, s // 2:, s // 5: -s // 5] = 1
    b = Batch(y * (1 - m), y, m.contiguous(memory_format=fmt))
    guard = BadStepGuard(10**9, RunPaths(__import__("pathlib").Path("/tmp/bench-gan")))
    params = sum(t.numel() for t in p.gen.parameters())

    gen = p.ema.model
    def infer(k: int):
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=setup.amp):
            gen(b.masked[:k] * 2 - 1, b.mask[:k])

    one = timed(lambda: infer(1), args.repeat)
    eight = timed(lambda: infer(8), args.repeat) / 8
    warm = timed(lambda: generator_step(p, b, 0.0, guard, adversarial=False), args.repeat)
    crit = timed(lambda: critic_step(p, b, 0.1, guard), args.repeat)
    adv = timed(lambda: generator_step(p, b, 0.1, guard, adversarial=True), args.repeat)
    print(f"{name}: {params / 1e6:.2f} M params, {params * 2 / 1e6:.1f} MB fp16")
    print(f"  inference {s} px: {one:.1f} ms/face (batch 1), {eight:.1f} ms/face (batch 8)")
    print(f"  train step (batch {n}): L1 warm-up {warm:.0f} ms ({n / warm * 1000:.0f} img/s); critic {crit:.0f} ms; "
          f"adversarial generator {adv:.0f} ms")
    for k in args.critic_steps:
        total = k * crit + adv
        print(f"    --critic-steps {k}: {total:.0f} ms per generator step, {n * (k + 1) / total * 1000:.0f} img/s drawn")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--critic-width", type=float, default=0.5)
    ap.add_argument("--critic-steps", type=int, nargs="+", default=[2, 10])
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for name, knobs in ARCHS.items():
        profile(name, knobs, args)


if __name__ == "__main__":
    main()
