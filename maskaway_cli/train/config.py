"""Frozen configs of the two training commands; ``config.json`` of a run is one of these as JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Options shared by ``train seg`` and ``train gan``."""

    dataset: str
    run_dir: str
    device: str = "auto"  # auto | cpu | cuda
    amp: bool = True  # bf16 autocast on CUDA and on CPUs with native bf16 (device.bf16_is_fast)
    channels_last: bool | None = None  # None: on (NHWC convs measured 1.2-1.8x faster on CPU too)
    compile: bool = False
    workers: int = 2  # decode threads when packing; prefetch depth when feeding
    seed: int = 0
    epochs: int | None = None
    steps: int | None = None  # overrides epochs
    subset: int | None = None  # training samples drawn from the train split
    batch_size: int = 64
    lr: float = 1e-3
    base_channels: int = 32
    max_channels: int = 256
    checkpoint_every: int = 0  # steps; 0 = once per epoch
    keep: int = 3  # last N periodic checkpoints kept
    max_bad_steps: int = 3  # consecutive non-finite steps before stopping
    val_limit: int = 1000  # validation samples used each epoch
    samples: int = 8  # columns of the sample grid
    log_every: int = 50  # steps between training lines in stats.jsonl

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class SegConfig(TrainConfig):
    epochs: int | None = 50
    subset: int | None = 20_000
    batch_size: int = 64
    lr: float = 1e-3
    patience: int = 10  # early stopping, epochs without a better validation loss
    plateau_patience: int = 3
    plateau_factor: float = 0.5
    dice_weight: float = 1.0


@dataclass(frozen=True, kw_only=True)
class GanConfig(TrainConfig):
    epochs: int | None = 20
    subset: int | None = 100_000
    batch_size: int = 16
    lr: float = 1e-4
    lr_floor: float = 1e-6
    beta1: float = 0.5
    beta2: float = 0.9
    critic_steps: int = 10
    warmup_steps: int = 0  # first generator steps trained on L1 alone, critic idle (a warm start)
    gp_weight: float = 10.0
    rec_weight: float = 10.0  # L1 reconstruction beside the adversarial term
    hole_weight: float = 6.0  # L1 weight inside the mask relative to 1 outside
    augment: str = "color,translation,cutout"
    noise_std: float = 0.15  # instance noise at step 0, decaying linearly to 0
    ema_decay: float = 0.999
    critic_width: float = 1.0  # multiplies the critic's 64,64,128,256,512 filters
    critic_dropout: float = 0.3
    critic_mask: bool = True
    fm_weight: float = 0.0  # feature matching on the critic's activations (adversarial phase)
    hf_weight: float = 0.0  # L1 on Laplacians inside the mask (both phases)
    bottleneck: int = 4  # side of the generator's lowest level, px
    context: tuple[str, ...] = ()  # generator bottleneck blocks: dil<N>, attn
