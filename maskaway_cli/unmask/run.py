"""The main loop of ``maskaway unmask``: stage A in workers → models here, batched → stage B in workers.

Only crops, matrices and file names pass through this process; the photos themselves go from stage A to
stage B through a spool folder (``spool.py``)."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import shutil
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maskaway_cli.progress import Reporter, null_reporter
from maskaway_cli.unmask.plan import Job, UnmaskConfig, plan_jobs
from maskaway_cli.unmask.stages import Finished, Prepared, finish, init_worker, prepare


@dataclass
class UnmaskSummary:
    processed: int = 0
    faces: int = 0
    masks_removed: int = 0
    no_face: list[str] = field(default_factory=list)
    faces_no_mask: int = 0
    skipped_existing: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)
    faces_left: list[dict] = field(default_factory=list)  # per face: input, box, status, mask_fraction, confidence
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "processed": self.processed, "faces_found": self.faces, "masks_removed": self.masks_removed,
            "images_no_face": self.no_face, "faces_no_mask": self.faces_no_mask,
            "skipped_existing": self.skipped_existing, "seconds": round(self.seconds, 3),
            "errors": [{"input": s, "reason": r} for s, r in self.errors],
            "notes": [{"input": s, "note": n} for s, n in self.notes],
            "faces_to_check": self.faces_left,
        }


class _Inline:
    """Pool stand-in for ``--workers 1``: runs each task at once, in this process."""

    class _Done:
        def __init__(self, value: Any) -> None:
            self.value = value

        def get(self, timeout: float | None = None) -> Any:
            return self.value

        def ready(self) -> bool:
            return True

    def apply_async(self, fn, args):
        return self._Done(fn(*args))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def terminate(self) -> None:
        pass


def unmask(config: UnmaskConfig, *, stdin_lines: list[str] | None = None,
           reporter: Reporter = null_reporter) -> UnmaskSummary:
    """Run the whole command. Raises only for problems that stop everything (weights, output folder)."""
    from maskaway_cli.unmask.pipeline import Unmasker, resolve_weights

    start = time.perf_counter()
    need = ("generator",) if config.mask_dir else ("segmenter", "generator")
    optional = () if config.mask_dir else ("presence",)  # given masks: nothing to decide
    unmasker = Unmasker(resolve_weights(config.weights, need=need, optional=optional), device=config.device,
                        threshold=config.threshold, min_confidence=config.min_confidence,
                        min_presence=config.min_presence, batch_size=config.batch_size)
    jobs, errors = plan_jobs(config, stdin_lines)
    summary = UnmaskSummary(errors=list(errors))
    jobs = _filter_existing(jobs, config, summary)
    weights_note = ", ".join(f"{k} {p.name}" for k, p in unmasker.weights.items())
    config.output.mkdir(parents=True, exist_ok=True)
    reporter("begin", task="unmask", total=len(jobs), description="Unmasking")
    in_flight: dict[int, Job] = {}
    try:
        with _share_cpu(unmasker, config.workers), _spool_dir(config.workers) as spool_dir, \
                _pool(config, unmasker.size, spool_dir) as pool:
            _run(jobs, pool, unmasker, weights_note, config, summary, reporter, start, in_flight)
    except BaseException:
        _sweep(in_flight.values())  # the pool is gone: its workers were killed mid-write
        raise
    finally:
        reporter("end", task="unmask")
    summary.seconds = time.perf_counter() - start
    return summary


@contextlib.contextmanager
def _share_cpu(unmasker, workers: int):
    """On the CPU, leave the cores to the workers: torch's OpenMP threads spin-wait at every layer, and
    with the cores already busy each wait becomes a time slice (measured: a 64 px U-Net went from 10 ms
    to 900 ms per call with 2 threads beside 2 busy workers on 2 cores)."""
    import torch

    before = torch.get_num_threads()
    if unmasker.device.type == "cpu" and workers > 1:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) - workers))
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def _spool_dir(workers: int):
    """A private folder for photos parked between the two worker stages (see ``spool.py``); removed with
    whatever is left in it when the run ends, however it ends."""
    if workers == 1:  # one process: the pixels never leave it
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="maskaway-spool-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _pool(config: UnmaskConfig, size: int, spool_dir: Path | None):
    if config.workers == 1:
        init_worker(config, size)
        return _Inline()
    return mp.get_context("spawn").Pool(config.workers, initializer=init_worker,
                                        initargs=(config, size, spool_dir))


def _filter_existing(jobs: list[Job], config: UnmaskConfig, summary: UnmaskSummary) -> list[Job]:
    keep = []
    for job in jobs:
        if job.target.exists() and job.target.resolve() == job.source.resolve():
            summary.errors.append((job.source.as_posix(), "output would overwrite the input file"))
        elif job.target.exists() and config.skip_existing:
            summary.skipped_existing.append(job.source.as_posix())
        elif job.target.exists() and not config.overwrite:
            summary.errors.append((job.source.as_posix(), f"{job.target} exists (use --overwrite or --skip-existing)"))
        else:
            keep.append(job)
    return keep


def _sweep(jobs) -> None:
    """Delete the temp files that killed workers may have left beside the outputs of ``jobs``. (Worker
    processes die at once on the pool's SIGTERM: a Python handler there to clean up would have to run
    in a process that may be blocked in C code, and the pool then waits for it for ever.)"""
    from maskaway_cli.imageio import stray_temp_files

    for job in jobs:
        for target in (job.target, job.mask_target, job.compare_target):
            for path in stray_temp_files(target):
                path.unlink(missing_ok=True)


def _run(jobs, pool, unmasker, weights_note, config, summary, reporter, start, in_flight) -> None:
    window = 4 * config.workers + 4  # photos in flight: enough to keep every stage busy, memory flat
    min_batch = 1 if unmasker.device.type == "cuda" else min(config.batch_size, max(1, window // 3))
    todo = deque(enumerate(jobs))
    stage_a: deque = deque()
    stage_b: deque = deque()
    ready: list[Prepared] = []

    def flush() -> None:
        crops = [f.crop for p in ready for f in p.faces]
        given = [f.given_mask for p in ready for f in p.faces]
        outputs = unmasker(crops, given) if crops else []
        at = 0
        for p in ready:
            mine = outputs[at : at + len(p.faces)]  # this photo's faces, in order
            at += len(p.faces)
            stage_b.append(pool.apply_async(finish, ((p, mine, weights_note),)))
        ready.clear()

    while todo or stage_a or ready or stage_b:
        while todo and len(stage_a) + len(stage_b) + len(ready) < window:
            index, job = todo.popleft()
            in_flight[index] = job
            stage_a.append(pool.apply_async(prepare, ((index, job),)))
        if stage_a:
            prepared = stage_a.popleft().get()
            if _triage(prepared, summary):
                ready.append(prepared)
            else:
                in_flight.pop(prepared.index, None)
                reporter("advance", task="unmask", n=1)
        # Greedy batching: run the models as soon as nothing more is ready, or the batch is full. On a
        # GPU the models are fast and batches stay small; when they are the bottleneck, photos queue up
        # and batches grow by themselves. On a CPU a batch of one face costs ~1.5x as much per face as
        # a batch of four, so there a few faces are gathered first (the workers stay busy meanwhile).
        more_ready = bool(stage_a) and stage_a[0].ready()
        faces = sum(len(p.faces) for p in ready)
        if ready and (faces >= config.batch_size or not stage_a or (not more_ready and faces >= min_batch)):
            flush()
        while stage_b and (stage_b[0].ready() or not stage_a):
            done = stage_b.popleft().get()
            in_flight.pop(done.index, None)
            _record(done, summary, reporter, start)


def _triage(prepared: Prepared, summary: UnmaskSummary) -> bool:
    """Book-keep stage A; True when the photo goes on to the models."""
    name = prepared.job.source.as_posix()
    summary.notes.extend((name, n) for n in prepared.notes)
    if prepared.error is not None:
        summary.errors.append((name, prepared.error))
        return False
    if not prepared.faces:
        summary.no_face.append(name)
    return True  # photos with no face are still written (unchanged), so a folder stays complete


def _record(done: Finished, summary: UnmaskSummary, reporter: Reporter, start: float) -> None:
    if done.error is not None:
        summary.errors.append((done.source, done.error))
    else:
        summary.processed += 1
        summary.faces += done.faces
        summary.masks_removed += done.masks_removed
        summary.faces_no_mask += done.faces - done.masks_removed
        summary.faces_left.extend({"input": done.source, **face} for face in done.left)
    elapsed = max(time.perf_counter() - start, 1e-6)
    reporter("advance", task="unmask", n=1, **{"img/s": summary.processed / elapsed, "faces": summary.faces,
                                                 "removed": summary.masks_removed})
