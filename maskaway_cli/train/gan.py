"""``maskaway train gan``: the inpainting generator, trained as a WGAN-GP.

Algorithm (Gulrajani et al. 2017, with DiffAugment and a reconstruction term), per generator step:

    for t in 1..n_critic:                                         # critic phase
        x, y, m  <- batch (masked, original, mask)
        y~ <- G(x, m)  (composite: m*G + (1-m)*x)
        augment y and y~ identically; add instance noise sigma(step)
        L_D = D(y~) - D(y) + lambda * (||grad D(eps*y + (1-eps)*y~)|| - 1)^2
        Adam step on D
    x, y, m <- batch                                               # generator phase
    L_G = -D(aug(G(x, m)) + noise) + lambda_rec * L1_hole-weighted(G_raw, y)
          + lambda_fm * sum_l |D_l(aug(G(x, m))) - D_l(aug(y))|       # feature matching (pix2pixHD)
          + lambda_hf * |Lap(G_raw) - Lap(y)|_mask                     # high-frequency detail
    Adam step on G;  EMA <- EMA + (1-beta)(G - EMA)
    lr <- cosine decay from lr0 to the floor over the run
"""

from __future__ import annotations

import copy
import math
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from maskaway_cli.data.feeder import Batch, fixed_batch
from maskaway_cli.errors import TrainingError, UsageError
from maskaway_cli.metrics.image import l1, psnr, sharpness_ratio
from maskaway_cli.models.critic import Critic, CriticConfig
from maskaway_cli.models.unet import Generator, UNetConfig, to_signed, to_unit
from maskaway_cli.progress import Reporter, null_reporter
from maskaway_cli.train.augment import diff_augment, instance_noise_std, parse_policy
from maskaway_cli.train.config import GanConfig
from maskaway_cli.train.losses import (critic_loss, feature_matching, gradient_penalty, high_frequency_l1,
                                       reconstruction_l1)
from maskaway_cli.train import dist
from maskaway_cli.train.run import (BadStepGuard, RunPaths, RunWriter, Setup, TrainResult, autocast,
                                    feeder_for, grad_norm, maybe_compile, prepare, rank_seed, resume_rng,
                                    total_steps)
from maskaway_cli.train.state import (CKPT_FORMAT, EMA, GracefulStop, check_arch, load_checkpoint,
                                      periodic_checkpoints, rng_state, set_rng_state)
from maskaway_cli.weights_io import WeightsMeta, save_weights


def gan_arch(cfg: GanConfig, size: int) -> tuple[UNetConfig, CriticConfig]:
    gen = UNetConfig.for_size(size, in_channels=4, out_channels=3, base_channels=cfg.base_channels,
                              max_channels=cfg.max_channels, bottleneck=cfg.bottleneck, context=cfg.context)
    filters = tuple(max(1, round(f * cfg.critic_width)) for f in CriticConfig.filters)
    return gen, CriticConfig(image_size=size, filters=filters, dropout=cfg.critic_dropout,
                             mask_channel=cfg.critic_mask)


def lr_at(step: int, total: int, lr0: float, floor: float) -> float:
    """Cosine decay from ``lr0`` at step 0 to ``floor`` at the last step: smooth, no restarts."""
    return floor + (lr0 - floor) * 0.5 * (1 + math.cos(math.pi * min(step, total) / max(1, total)))


@dataclass
class Parts:
    """Everything a step touches; ``g``/``d`` are what is called (maybe compiled)."""

    gen: Generator
    critic: Critic
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    ema: EMA
    g: torch.nn.Module
    d: torch.nn.Module
    policy: tuple[str, ...]
    setup: Setup
    cfg: GanConfig


def critic_view(img: torch.Tensor, reals: list[torch.Tensor], m: torch.Tensor, p: Parts, sigma: float,
                ) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """What the critic sees: images (B,3,S,S) in [-1,1] with the mask as channel 4, augmented with one
    shared random draw, then instance noise on the colour channels. Returns (rgb, mask) per image."""
    views = diff_augment([torch.cat([t, m], dim=1) for t in [img, *reals]], p.policy)
    return [(v[:, :3] + sigma * torch.randn_like(v[:, :3]), v[:, 3:]) for v in views]


def critic_step(p: Parts, b: Batch, sigma: float, guard: BadStepGuard) -> dict[str, torch.Tensor]:
    """One critic update: Wasserstein loss + gradient penalty on augmented, noised inputs."""
    x, y, m = to_signed(b.masked), to_signed(b.original), b.mask  # (B,3,S,S) in [-1,1], (B,1,S,S)
    with torch.no_grad(), autocast(p.setup):
        fake = p.g(x, m).float()  # composite (B,3,S,S)
    (fake_v, m_v), (real_v, _) = critic_view(fake, [y], m, p, sigma)
    cm = m_v if p.cfg.critic_mask else None
    with autocast(p.setup):
        w = critic_loss(p.d(real_v, cm), p.d(fake_v, cm))
        gp = gradient_penalty(p.d, real_v, fake_v, cm)
    loss = w + p.cfg.gp_weight * gp
    p.opt_d.zero_grad(set_to_none=True)
    loss.backward()
    dist.average_grads(p.critic.parameters(), p.setup.dist)  # by hand: DDP has no double backward
    if guard.ok(loss, grad_norm(p.critic.parameters())):
        p.opt_d.step()
    return {"d_loss": loss.detach(), "wdist": -w.detach(), "gp": gp.detach()}


def generator_step(p: Parts, b: Batch, sigma: float, guard: BadStepGuard, *,
                   adversarial: bool = True) -> dict[str, torch.Tensor]:
    """One generator update: adversarial term and feature matching through the (frozen) critic, plus
    hole-weighted L1 and the high-frequency term. ``adversarial=False`` (the warm-up) leaves the critic
    out."""
    x, y, m = to_signed(b.masked), to_signed(b.original), b.mask
    cfg, zero = p.cfg, torch.zeros((), device=x.device)
    adv = fm = zero
    p.critic.requires_grad_(False)  # no critic weight gradients during the generator phase
    with autocast(p.setup):
        fake, raw = p.g(x, m, return_raw=True)
        rec = reconstruction_l1(raw, y, m, hole_weight=cfg.hole_weight)
        hf = high_frequency_l1(raw, y, m) if cfg.hf_weight else zero
        if adversarial:
            (fake_v, m_v), (real_v, _) = critic_view(fake.float(), [y], m, p, sigma)
            cm = m_v if cfg.critic_mask else None
            scores, fake_feats = p.critic.scores_and_features(fake_v, cm)
            adv = -scores.float().mean()
            if cfg.fm_weight:
                with torch.no_grad():
                    _, real_feats = p.critic.scores_and_features(real_v, cm)
                fm = feature_matching(fake_feats, real_feats)
    loss = adv + cfg.rec_weight * rec + cfg.fm_weight * fm + cfg.hf_weight * hf
    p.opt_g.zero_grad(set_to_none=True)
    loss.backward()
    p.critic.requires_grad_(True)
    if guard.ok(loss, grad_norm(p.gen.parameters())):
        p.opt_g.step()
        p.ema.update(p.gen)
    return {"g_loss": loss.detach(), "g_adv": adv.detach(), "g_rec": rec.detach(), "g_fm": fm.detach(),
            "g_hf": hf.detach()}


VAL_FACES = 128  # validation faces scored at every epoch end (the grid's 8 are too few to compare runs)
BN_BATCHES = 32  # training batches that re-measure the EMA generator's BatchNorm statistics


@torch.no_grad()
def ema_for_eval(p: Parts, setup: Setup) -> Generator:
    """A copy of the EMA generator with BatchNorm statistics of its own: the running statistics belong
    to the live weights, and on the averaged ones they are off (measured at 128 px, step 2,095: 14.8 dB
    in the mask with the live statistics, 20.3 with the batch's own). The copy leaves the training
    state, and so an exact resume, untouched; the batches are fixed, so the result is reproducible."""
    model = copy.deepcopy(p.ema.model)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return model
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a plain average over the batches below
    model.train()
    n = p.cfg.batch_size // setup.dist.world
    rows = setup.train_rows[: BN_BATCHES * n]  # fixed rows, not the feeder (its prefetch thread owns it)
    for i in range(0, len(rows) - n + 1, n):
        b = fixed_batch(setup.packed, rows[i:i + n], setup.device)
        with autocast(setup):
            model(to_signed(b.masked), b.mask)
    return model.eval()


@torch.no_grad()
def val_metrics(gen: Generator, val: Batch, setup: Setup, *, chunk: int = 32) -> dict[str, float]:
    """In-mask L1 and PSNR (means) and the sharpness ratio (median) of ``gen`` on the validation faces."""
    outs = []
    for i in range(0, len(val.mask), chunk):
        with autocast(setup):
            g = gen(to_signed(val.masked[i:i + chunk]), val.mask[i:i + chunk]).float()
        outs.append(to_unit(g))  # (b,3,S,S) in [0,1]
    out = torch.cat(outs)
    return {"val_l1_mask": float(l1(out, val.original, val.mask).nanmean()),
            "val_psnr_mask": float(psnr(out, val.original, val.mask).nanmean()),
            "val_sharpness": float(sharpness_ratio(out, val.original, val.mask).nanmedian())}


def _policy(cfg: GanConfig) -> tuple[str, ...]:
    try:
        return parse_policy(cfg.augment)
    except ValueError as exc:
        raise UsageError(f"--augment: {exc}") from None


def build_parts(cfg: GanConfig, setup: Setup) -> Parts:
    policy = _policy(cfg)
    try:
        gen_cfg, critic_cfg = gan_arch(cfg, setup.packed.size)
    except ValueError as exc:
        raise UsageError(f"generator architecture: {exc}") from None
    torch.manual_seed(cfg.seed)
    fmt = torch.channels_last if setup.channels_last else torch.contiguous_format
    gen = Generator(gen_cfg).to(setup.device, memory_format=fmt)
    critic = Critic(critic_cfg).to(setup.device, memory_format=fmt)
    rank_seed(setup, cfg.seed)
    betas = (cfg.beta1, cfg.beta2)
    return Parts(gen, critic, torch.optim.Adam(gen.parameters(), lr=cfg.lr, betas=betas),
                 torch.optim.Adam(critic.parameters(), lr=cfg.lr, betas=betas), EMA(gen, cfg.ema_decay),
                 # the critic stays eager (and out of DDP): the gradient penalty needs a double
                 # backward, which torch.compile (aot_autograd) and DDP do not support
                 dist.wrap(maybe_compile(gen, cfg.compile), setup.dist, setup.device), critic, policy, setup, cfg)


def train_gan(cfg: GanConfig, *, reporter: Reporter = null_reporter, stop: GracefulStop | None = None,
              export_only: bool = False) -> TrainResult:
    """Train (or resume, or with ``export_only`` just export) the inpainting GAN in ``cfg.run_dir``."""
    run = RunPaths(Path(cfg.run_dir))
    _policy(cfg)  # a bad --augment or --context fails before the dataset is packed
    try:
        UNetConfig(4, 3, context=cfg.context)
    except ValueError as exc:
        raise UsageError(f"--context: {exc}") from None
    setup = prepare(cfg, reporter)
    size = setup.packed.size
    p = build_parts(cfg, setup)
    arch = {"generator": p.gen.config.to_dict(), "critic": p.critic.config.to_dict()}
    reporter = reporter if setup.dist.main else null_reporter
    out = RunWriter(run, setup, cfg.keep)
    feeder = feeder_for(setup, cfg)
    per_step = cfg.critic_steps + 1  # batches consumed by one generator step
    steps_per_epoch = max(1, feeder.per_epoch // per_step)
    loop = {"step": 0}

    # ---- resume ------------------------------------------------------------------------------------
    if ckpts := periodic_checkpoints(run.checkpoints):
        ck = load_checkpoint(ckpts[-1])
        check_arch(ck["arch"], arch, ckpts[-1])
        p.gen.load_state_dict(ck["gen"])
        p.critic.load_state_dict(ck["critic"])
        p.ema.model.load_state_dict(ck["ema"])
        p.opt_g.load_state_dict(ck["opt_g"])
        p.opt_d.load_state_dict(ck["opt_d"])
        set_rng_state(resume_rng(ck, setup))
        loop = dict(ck["loop"])
    if export_only and not ckpts:
        raise TrainingError(f"{run.root}: no checkpoint to export (train first)")
    out.config(cfg, {"kind": "gan", "arch": arch, "image_size": size, "resolved_device": str(setup.device),
                     "amp_in_effect": setup.amp, "train_samples": len(setup.train_rows),
                     "val_samples": len(setup.val_rows)})

    def state() -> dict:
        return {"format": CKPT_FORMAT, "kind": "gan", "arch": arch, "gen": p.gen.state_dict(),
                "critic": p.critic.state_dict(), "ema": p.ema.model.state_dict(), "opt_g": p.opt_g.state_dict(),
                "opt_d": p.opt_d.state_dict(), "rng": rng_state(), "loop": dict(loop)}

    def export() -> Path:
        meta = WeightsMeta(kind="generator", arch=arch["generator"], image_size=size,
                           info={"step": loop["step"], "bn_recalibrated_batches": BN_BATCHES})
        return save_weights(run.weights, ema_for_eval(p, setup).state_dict(), meta)

    if export_only:
        return TrainResult("exported", loop["step"], run.root, export() if out.main else None)

    total = total_steps(cfg, steps_per_epoch)
    grid_rows = setup.val_rows[: cfg.samples] if len(setup.val_rows) else setup.train_rows[: cfg.samples]
    grid = fixed_batch(setup.packed, grid_rows, setup.device)  # the fixed sample grid
    val = fixed_batch(setup.packed, setup.val_rows[:VAL_FACES], setup.device) if len(setup.val_rows) else grid
    guard_d, guard_g = (BadStepGuard(cfg.max_bad_steps, run, write=out.main) for _ in range(2))  # one count each
    stream = feeder.stream(loop["step"] * per_step, prefetch=cfg.workers if setup.device.type == "cuda" else 0)
    metrics: dict[str, float] = {}
    d_stats = {k: torch.zeros(()) for k in ("d_loss", "wdist", "gp")}  # until the critic first trains
    reporter("begin", task="train", total=total, unit="step", description="Training GAN")
    tick, tick_step = time.perf_counter(), loop["step"]
    while loop["step"] < total:
        step = loop["step"]
        lr = lr_at(step, total, cfg.lr, cfg.lr_floor)
        for opt in (p.opt_g, p.opt_d):
            for group in opt.param_groups:
                group["lr"] = lr
        sigma = instance_noise_std(step, total, cfg.noise_std)

        warm = step < cfg.warmup_steps  # reconstruction-only warm-up: the critic waits

        # ---- critic phase: n_critic updates with gradient penalty ----------------------------------
        for _ in range(cfg.critic_steps):
            batch = next(stream)  # drawn in the warm-up too, so a step always uses the same batches
            if not warm:
                d_stats = critic_step(p, batch, sigma, guard_d)
                guard_d.check(step, state)

        # ---- generator phase: one update, then the EMA ---------------------------------------------
        g_stats = generator_step(p, next(stream), sigma, guard_g, adversarial=not warm)
        guard_g.check(step, state)
        loop["step"] = step = step + 1

        now = time.perf_counter()
        ips = (step - tick_step) * per_step * cfg.batch_size / max(now - tick, 1e-9)
        losses = {k: float(v) for k, v in {**d_stats, **g_stats}.items()}
        reporter("advance", task="train", n=1, **{"img/s": ips, "d": losses["d_loss"], "g": losses["g_loss"]})
        if step % cfg.log_every == 0:
            out.stats({"step": step, "lr": lr, "noise": sigma, "img_per_s": ips, **losses})
        if now - tick > 5:
            tick, tick_step = now, step

        # ---- end of epoch: EMA samples of the fixed batch, in-mask metrics, checkpoint --------------
        if step % steps_per_epoch == 0 or step == total:
            if out.main:
                ema = ema_for_eval(p, setup)
                metrics = val_metrics(ema, val, setup)
                with torch.no_grad(), autocast(setup):
                    filled = to_unit(ema(to_signed(grid.masked), grid.mask).float())  # (B,3,S,S) in [0,1]
                out.grid(f"{step:07d}.png", [grid.masked, filled, grid.original])
            out.stats({"step": step, "epoch": (step - 1) // steps_per_epoch, "lr": lr, **losses, **metrics})
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
    weights = export() if out.main else None
    dist.stop(setup.dist)
    return TrainResult("finished", loop["step"], run.root, weights, metrics=metrics)
