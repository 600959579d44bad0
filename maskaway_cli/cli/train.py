"""``maskaway train seg|gan``: options -> frozen config -> one core call -> render."""

from __future__ import annotations

import gc
import os
from typing import Any, Optional

import typer

from maskaway_cli.cli.common import EXIT_SIGINT, EXIT_SIGTERM, handle_errors

# Options both commands share, as (name, typer.Option) pairs reused by each signature below.
DEVICE = typer.Option("auto", "--device", help="auto, cpu or cuda.")
AMP = typer.Option(True, "--amp/--no-amp", help="bf16 autocast on CUDA and on CPUs with native bf16 (else fp32).")
CHANNELS_LAST = typer.Option(None, "--channels-last/--no-channels-last",
                             help="NHWC tensors (default: on; faster on CUDA and on the CPU).")
COMPILE = typer.Option(False, "--compile", help="torch.compile the models.")
WORKERS = typer.Option(2, "--workers", min=0, help="Decode threads when packing; prefetch depth on CUDA.")
SEED = typer.Option(0, "--seed", help="Random seed (data order, init, augmentation).")
STEPS = typer.Option(None, "--steps", min=1, help="Total optimisation steps (overrides --epochs).")
WIDTH = typer.Option(32, "--width", min=1, help="U-Net channels at full resolution.")
CKPT_EVERY = typer.Option(0, "--checkpoint-every", min=0, help="Steps between checkpoints (0: each epoch).")
KEEP = typer.Option(3, "--keep", min=1, help="Periodic checkpoints kept.")
DRY_RUN = typer.Option(False, "--dry-run", help="Print the resolved config and exit.")
EXPORT = typer.Option(False, "--export", help="Only export weights.safetensors from the run's checkpoint.")
JSON = typer.Option(False, "--json", help="Write the result as JSON to stdout.")
OUTPUT = typer.Option(..., "--output", "-o", help="Run folder (re-using one resumes it).")


def _run(kind: str, cfg: Any, *, dry_run: bool, export: bool, json_out: bool) -> None:
    from maskaway_cli.console import RichReporter, console, emit_json

    if dry_run:
        from maskaway_cli.device import resolve_device

        emit_json({"command": f"train {kind}", "config": cfg.to_dict(),
                   "resolved_device": str(resolve_device(cfg.device))})
        return
    from maskaway_cli.train.state import GracefulStop

    train = _core(kind)
    with GracefulStop() as stop, RichReporter() as reporter:
        result = train(cfg, reporter=reporter, stop=stop, export_only=export)
    # DistributedDataParallel sits in reference cycles, so without a collection here its gloo process
    # group is freed only during interpreter shutdown, where gloo's teardown can abort the process
    gc.collect()
    if os.environ.get("RANK", "0") != "0":  # under torchrun, rank 0 reports for all
        if result.status == "interrupted":
            raise typer.Exit(EXIT_SIGTERM if result.signum == 15 else EXIT_SIGINT)
        return
    doc = {"status": result.status, "step": result.step, "run_dir": str(result.run_dir),
           "weights": str(result.weights) if result.weights else None, "metrics": result.metrics or {}}
    if json_out:
        emit_json(doc)
    if result.status == "interrupted":
        console().print(f"interrupted at step {result.step}: checkpoint written, re-run the same command "
                        "to resume")
        raise typer.Exit(EXIT_SIGTERM if result.signum == 15 else EXIT_SIGINT)
    if not json_out:
        extra = "  ".join(f"{k} {v:.4f}" for k, v in (result.metrics or {}).items())
        console().print(f"{result.status} at step {result.step}: {result.weights}  {extra}".rstrip())


def _core(kind: str):
    if kind == "seg":
        from maskaway_cli.train.seg import train_seg

        return train_seg
    from maskaway_cli.train.gan import train_gan

    return train_gan


def register(app: typer.Typer) -> None:
    train = typer.Typer(help="Train the segmenter or the inpainting GAN.", no_args_is_help=True)

    @train.command("seg")
    @handle_errors
    def seg(
        dataset: str = typer.Argument(..., help="Dataset folder (maskaway generate, or orig/mask/binary)."),
        output: str = OUTPUT,
        epochs: int = typer.Option(50, "--epochs", min=1, help="Maximum epochs (early stopping may end sooner)."),
        steps: Optional[int] = STEPS,
        subset: int = typer.Option(20_000, "--subset", min=0, help="Training samples used (0: all)."),
        batch_size: int = typer.Option(64, "--batch-size", min=1),
        lr: float = typer.Option(1e-3, "--lr", min=0.0),
        patience: int = typer.Option(10, "--patience", min=1, help="Early stopping patience (epochs)."),
        width: int = WIDTH, device: str = DEVICE, amp: bool = AMP, channels_last: Optional[bool] = CHANNELS_LAST,
        compile: bool = COMPILE, workers: int = WORKERS, seed: int = SEED, checkpoint_every: int = CKPT_EVERY,
        keep: int = KEEP, dry_run: bool = DRY_RUN, export: bool = EXPORT, json_out: bool = JSON,
    ) -> None:
        """Train the segmentation U-Net (BCE + Dice, plateau LR, early stopping)."""
        from maskaway_cli.train.config import SegConfig

        cfg = SegConfig(dataset=dataset, run_dir=output, epochs=epochs, steps=steps, subset=subset or None,
                        batch_size=batch_size, lr=lr, patience=patience, base_channels=width, device=device,
                        amp=amp, channels_last=channels_last, compile=compile, workers=workers, seed=seed,
                        checkpoint_every=checkpoint_every, keep=keep)
        _run("seg", cfg, dry_run=dry_run, export=export, json_out=json_out)

    @train.command("gan")
    @handle_errors
    def gan(
        dataset: str = typer.Argument(..., help="Dataset folder (maskaway generate, or orig/mask/binary)."),
        output: str = OUTPUT,
        critic_steps: int = typer.Option(10, "--critic-steps", min=1, help="Critic updates per generator update."),
        warmup_steps: int = typer.Option(0, "--warmup-steps", min=0, help="First steps on L1 alone (critic idle)."),
        epochs: int = typer.Option(20, "--epochs", min=1),
        steps: Optional[int] = STEPS,
        subset: int = typer.Option(100_000, "--subset", min=0, help="Training samples used (0: all)."),
        batch_size: int = typer.Option(16, "--batch-size", min=1),
        lr: float = typer.Option(1e-4, "--lr", min=0.0),
        lr_floor: float = typer.Option(1e-6, "--lr-floor", min=0.0, help="Learning rate at the end of the run."),
        gp_weight: float = typer.Option(10.0, "--gp-weight", min=0.0),
        rec_weight: float = typer.Option(10.0, "--rec-weight", min=0.0, help="L1 reconstruction weight."),
        hole_weight: float = typer.Option(6.0, "--hole-weight", min=1.0, help="L1 weight inside the mask."),
        augment: str = typer.Option("color,translation,cutout", "--augment", help="DiffAugment policy or 'none'."),
        noise: float = typer.Option(0.15, "--noise", min=0.0, help="Instance noise std at the start."),
        ema_decay: float = typer.Option(0.999, "--ema-decay", min=0.0, max=1.0),
        critic_width: float = typer.Option(1.0, "--critic-width", min=0.01, help="Scales the critic's filters."),
        critic_mask: bool = typer.Option(True, "--critic-mask/--no-critic-mask", help="Show the critic the mask."),
        fm_weight: float = typer.Option(0.0, "--fm-weight", min=0.0,
                                        help="Feature matching on the critic's activations (adversarial phase)."),
        hf_weight: float = typer.Option(0.0, "--hf-weight", min=0.0, help="L1 on Laplacians inside the mask."),
        bottleneck: int = typer.Option(4, "--bottleneck", min=1, help="Side of the generator's lowest level (px)."),
        context: str = typer.Option("", "--context",
                                    help="Generator bottleneck blocks, comma-separated: dil<N> (dilated), attn."),
        width: int = WIDTH, device: str = DEVICE, amp: bool = AMP, channels_last: Optional[bool] = CHANNELS_LAST,
        compile: bool = COMPILE, workers: int = WORKERS, seed: int = SEED, checkpoint_every: int = CKPT_EVERY,
        keep: int = KEEP, dry_run: bool = DRY_RUN, export: bool = EXPORT, json_out: bool = JSON,
    ) -> None:
        """Train the WGAN-GP inpainting generator (EMA weights are exported)."""
        from maskaway_cli.train.config import GanConfig

        cfg = GanConfig(dataset=dataset, run_dir=output, critic_steps=critic_steps, warmup_steps=warmup_steps,
                        epochs=epochs, steps=steps,
                        subset=subset or None, batch_size=batch_size, lr=lr, lr_floor=lr_floor,
                        gp_weight=gp_weight, rec_weight=rec_weight, hole_weight=hole_weight, augment=augment,
                        noise_std=noise, ema_decay=ema_decay, critic_width=critic_width, critic_mask=critic_mask,
                        fm_weight=fm_weight, hf_weight=hf_weight, bottleneck=bottleneck,
                        context=tuple(c.strip() for c in context.split(",") if c.strip()),
                        base_channels=width, device=device, amp=amp, channels_last=channels_last, compile=compile,
                        workers=workers, seed=seed, checkpoint_every=checkpoint_every, keep=keep)
        _run("gan", cfg, dry_run=dry_run, export=export, json_out=json_out)

    app.add_typer(train, name="train")
