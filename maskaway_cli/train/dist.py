"""Data-parallel training under ``torchrun --nproc-per-node N``: one process per GPU (or CPU slot).

What stays as for one process: the global batch (``--batch-size``, split evenly over the ranks; each rank
reads only its share of every batch of the same shuffled order), the learning rate and its schedule, the
step count and the run folder. Gradients are averaged over the ranks (DistributedDataParallel for the
segmenter and the generator; by hand, the same all-reduce, for the critic, whose gradient penalty needs
a double backward that DDP does not support). Rank 0 alone writes the run folder; every rank's random
state goes into the checkpoint, so a resume with the same number of processes is exact.
BatchNorm statistics are per rank (as DDP keeps them), so N processes are not bit-identical to one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch

from maskaway_cli.errors import UsageError


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


SINGLE = Dist()


def from_env() -> Dist:
    """The process's place in a torchrun job (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``), else one process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return SINGLE
    return Dist(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))


def start(d: Dist, device: torch.device) -> torch.device:
    """Join the process group (nccl on CUDA, gloo on the CPU); returns this rank's device."""
    if not d.enabled:
        return device
    import torch.distributed as tdist

    if device.type == "cuda":
        device = torch.device("cuda", d.local_rank)
        torch.cuda.set_device(device)
    if not tdist.is_initialized():
        tdist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def stop(d: Dist) -> None:
    """Leave the process group together: a rank that tears gloo down while another still works (rank 0
    exporting the weights) can abort in gloo's teardown, so every rank first waits at a barrier."""
    if d.enabled:
        import torch.distributed as tdist

        if tdist.is_initialized():
            tdist.barrier()
            tdist.destroy_process_group()


def check_batch(d: Dist, batch_size: int) -> int:
    """Samples per rank of a ``batch_size`` global batch."""
    if batch_size % d.world:
        raise UsageError(f"--batch-size {batch_size} does not split evenly over {d.world} processes")
    return batch_size // d.world


def barrier(d: Dist) -> None:
    if d.enabled:
        import torch.distributed as tdist

        tdist.barrier()


def wrap(model: torch.nn.Module, d: Dist, device: torch.device) -> torch.nn.Module:
    """``model`` under DistributedDataParallel when there is more than one process."""
    if not d.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return getattr(model, "module", model)


def average_grads(params, d: Dist) -> None:
    """All-reduce the gradients of ``params`` to their mean over the ranks, as one flat buffer."""
    if not d.enabled:
        return
    import torch.distributed as tdist

    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    tdist.all_reduce(flat)
    flat /= d.world
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def any_rank(flag: bool, d: Dist, device: torch.device) -> bool:
    """True when ``flag`` is true on any rank (a signal reaches the ranks at different steps)."""
    if not d.enabled:
        return flag
    import torch.distributed as tdist

    t = torch.tensor([int(flag)], device=device)
    tdist.all_reduce(t, op=tdist.ReduceOp.MAX)
    return bool(t.item())


def gather(obj: Any, d: Dist) -> list[Any]:
    """``obj`` from every rank, in rank order (every rank must call it)."""
    if not d.enabled:
        return [obj]
    import torch.distributed as tdist

    out: list[Any] = [None] * d.world
    tdist.all_gather_object(out, obj)
    return out
