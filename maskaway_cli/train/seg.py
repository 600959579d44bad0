"""``maskaway train seg``: the segmentation U-Net (BCE + Dice, Adam, plateau LR, early stopping)."""

from __future__ import annotations

import math
import signal
import time
from pathlib import Path

import numpy as np
import torch

from maskaway_cli.data.feeder import Batch, fixed_batch
from maskaway_cli.errors import TrainingError
from maskaway_cli.metrics.seg import SegCounts, seg_counts, seg_scores
from maskaway_cli.models.unet import Segmenter, UNetConfig
from maskaway_cli.progress import Reporter, null_reporter
from maskaway_cli.train.augment import seg_augment
from maskaway_cli.train.config import SegConfig
from maskaway_cli.train.losses import bce_dice
from maskaway_cli.train import dist
from maskaway_cli.train.run import (BadStepGuard, RunPaths, RunWriter, Setup, TrainResult, autocast,
                                    feeder_for, grad_norm, maybe_compile, prepare, rank_seed, resume_rng,
                                    total_steps)
from maskaway_cli.train.state import (CKPT_FORMAT, GracefulStop, atomic_save, check_arch, load_checkpoint,
                                      periodic_checkpoints, rng_state, set_rng_state)
from maskaway_cli.weights_io import WeightsMeta, save_weights


def seg_arch(cfg: SegConfig, size: int) -> UNetConfig:
    return UNetConfig.for_size(size, in_channels=3, out_channels=1, base_channels=cfg.base_channels,
                               max_channels=cfg.max_channels)


def seg_step(fwd, model: Segmenter, opt: torch.optim.Optimizer, b: Batch, setup: Setup, guard: BadStepGuard,
             *, dice_weight: float) -> torch.Tensor:
    """One update: augment, BCE + Dice, Adam (skipped when the loss or a gradient is not finite)."""
    x, m = seg_augment(b.masked, b.mask)  # flips shared by image and mask; colour on the image only
    with autocast(setup):
        logits = fwd(x)  # (B,1,S,S)
    loss = bce_dice(logits, m, dice_weight=dice_weight)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if guard.ok(loss, grad_norm(model.parameters())):
        opt.step()
    return loss.detach()


@torch.no_grad()
def validate(model, setup: Setup, cfg: SegConfig) -> dict[str, float]:
    """Validation loss, IoU, Dice, precision, recall (threshold 0.5) over ``setup.val_rows``."""
    if len(setup.val_rows) == 0:
        return {}
    model.eval()
    counts, loss_sum = SegCounts(), 0.0
    for chunk in np.array_split(setup.val_rows, math.ceil(len(setup.val_rows) / cfg.batch_size)):
        b = fixed_batch(setup.packed, chunk, setup.device)
        with autocast(setup):
            logits = model(b.masked)  # (B,1,S,S)
        loss_sum += float(bce_dice(logits, b.mask, dice_weight=cfg.dice_weight)) * len(chunk)
        counts = counts + seg_counts(logits.float() > 0, b.mask)
    model.train()
    return {"val_loss": loss_sum / len(setup.val_rows), **{f"val_{k}": v for k, v in seg_scores(counts).items()}}


def train_seg(cfg: SegConfig, *, reporter: Reporter = null_reporter, stop: GracefulStop | None = None,
              export_only: bool = False) -> TrainResult:
    """Train (or resume, or with ``export_only`` just export) a segmenter in ``cfg.run_dir``."""
    run = RunPaths(Path(cfg.run_dir))
    setup = prepare(cfg, reporter)
    size = setup.packed.size
    arch = seg_arch(cfg, size)
    torch.manual_seed(cfg.seed)
    fmt = torch.channels_last if setup.channels_last else torch.contiguous_format
    model = Segmenter(arch).to(setup.device, memory_format=fmt)
    rank_seed(setup, cfg.seed)
    plain = maybe_compile(model, cfg.compile)  # validation and samples: no gradient sync needed
    fwd = dist.wrap(plain, setup.dist, setup.device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, "min", factor=cfg.plateau_factor,
                                                       patience=cfg.plateau_patience)
    reporter = reporter if setup.dist.main else null_reporter
    out = RunWriter(run, setup, cfg.keep)
    feeder = feeder_for(setup, cfg)
    loop = {"step": 0, "best": math.inf, "bad_epochs": 0, "early_stopped": False}

    # ---- resume ------------------------------------------------------------------------------------
    if ckpts := periodic_checkpoints(run.checkpoints):
        ck = load_checkpoint(ckpts[-1])
        check_arch(ck["arch"], arch.to_dict(), ckpts[-1])
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        set_rng_state(resume_rng(ck, setup))
        loop = dict(ck["loop"])
    if export_only and not ckpts:
        raise TrainingError(f"{run.root}: no checkpoint to export (train first)")
    out.config(cfg, {"kind": "seg", "arch": arch.to_dict(), "image_size": size,
                     "resolved_device": str(setup.device), "amp_in_effect": setup.amp,
                     "train_samples": len(setup.train_rows), "val_samples": len(setup.val_rows)})

    def state() -> dict:
        return {"format": CKPT_FORMAT, "kind": "seg", "arch": arch.to_dict(), "model": model.state_dict(),
                "opt": opt.state_dict(), "sched": sched.state_dict(), "rng": rng_state(), "loop": dict(loop)}

    def export() -> Path:
        best = run.checkpoints / "best.pt"
        sd = load_checkpoint(best)["model"] if best.is_file() else model.state_dict()
        return save_weights(run.weights, sd, WeightsMeta(kind="segmenter", arch=arch.to_dict(), image_size=size,
                                                        info={"step": loop["step"], "best_val_loss": loop["best"]}))

    if export_only:
        return TrainResult("exported", loop["step"], run.root, export() if out.main else None)

    total = total_steps(cfg, feeder.per_epoch)
    grid_rows = setup.val_rows[: cfg.samples] if len(setup.val_rows) else setup.train_rows[: cfg.samples]
    grid_batch = fixed_batch(setup.packed, grid_rows, setup.device)
    guard = BadStepGuard(cfg.max_bad_steps, run, write=out.main)
    stream = feeder.stream(loop["step"], prefetch=cfg.workers if setup.device.type == "cuda" else 0)
    metrics: dict[str, float] = {}
    reporter("begin", task="train", total=total, unit="step", description="Training segmenter")
    tick, tick_step = time.perf_counter(), loop["step"]
    model.train()
    while loop["step"] < total and not loop["early_stopped"]:
        # ---- one optimisation step -----------------------------------------------------------------
        loss = seg_step(fwd, model, opt, next(stream), setup, guard, dice_weight=cfg.dice_weight)
        loop["step"] += 1
        step = loop["step"]
        guard.check(step, state)
        now = time.perf_counter()
        ips = (step - tick_step) * cfg.batch_size / max(now - tick, 1e-9)
        reporter("advance", task="train", n=1, **{"img/s": ips, "loss": float(loss)})
        if step % cfg.log_every == 0:
            out.stats({"step": step, "loss": float(loss), "lr": opt.param_groups[0]["lr"], "img_per_s": ips})
        if now - tick > 5:
            tick, tick_step = now, step

        # ---- end of epoch: validate, adapt the LR, early stopping, samples, checkpoint -------------
        if step % feeder.per_epoch == 0 or step == total:
            # every rank validates (the same weights and BatchNorm statistics: DDP broadcasts them),
            # so the plateau schedule and early stopping agree without a message
            metrics = validate(plain, setup, cfg)
            if metrics:
                sched.step(metrics["val_loss"])
                if metrics["val_loss"] < loop["best"]:
                    loop["best"], loop["bad_epochs"] = metrics["val_loss"], 0
                    if out.main:
                        atomic_save({"arch": arch.to_dict(), "model": model.state_dict(), "step": step,
                                     "metrics": metrics}, run.checkpoints / "best.pt")
                else:
                    loop["bad_epochs"] += 1
                loop["early_stopped"] = loop["bad_epochs"] >= cfg.patience
            out.stats({"step": step, "epoch": feeder.epoch_of(step - 1), "loss": float(loss),
                       "lr": opt.param_groups[0]["lr"], **metrics})
            if out.main:
                with torch.no_grad():
                    model.eval()
                    pred = (plain(grid_batch.masked).float() > 0).float()
                    model.train()
                out.grid(f"{step:07d}.png", [grid_batch.masked, pred, grid_batch.mask])
            out.checkpoint(state, step)
        elif cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
            out.checkpoint(state, step)

        # ---- a signal (on any rank): finish this step, checkpoint, hand back -----------------------
        if dist.any_rank(stop is not None and stop.signum is not None, setup.dist, setup.device):
            out.checkpoint(state, step)
            reporter("end", task="train")
            dist.stop(setup.dist)
            return TrainResult("interrupted", step, run.root, signum=(stop and stop.signum) or signal.SIGTERM)
    reporter("end", task="train")
    out.checkpoint(state, loop["step"])
    status = "early_stopped" if loop["early_stopped"] else "finished"
    weights = export() if out.main else None
    dist.stop(setup.dist)
    return TrainResult(status, loop["step"], run.root, weights, metrics=metrics)
