"""Per-photo work in worker processes, results back in input order: shared by ``generate`` and ``mask``."""

from __future__ import annotations

import multiprocessing as mp
import signal
from collections.abc import Callable, Iterable, Iterator
from typing import Any


def ignore_sigint() -> None:
    """In a worker process: Ctrl-C reaches the whole process group, and the main process decides."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def ordered_results(fn: Callable[[Any], Any], tasks: Iterable[Any], *, count: int, workers: int,
                    init: Callable[..., None], initargs: tuple, max_chunk: int) -> Iterator[Any]:
    """``fn`` over ``tasks`` in input order. One worker (or one task): in this process, after ``init``,
    with Ctrl-C left working. Else in a ``spawn`` pool whose workers run ``init`` then ignore Ctrl-C;
    the pool is terminated if the caller stops early or fails."""
    if workers == 1 or count < 2:
        init(*initargs)
        yield from map(fn, tasks)
        return
    with mp.get_context("spawn").Pool(workers, initializer=_init_and_ignore, initargs=(init, initargs)) as pool:
        try:
            # Big chunks cut inter-process traffic; small enough that every worker gets a share of short runs.
            chunk = max(1, min(max_chunk, count // (4 * workers)))
            yield from pool.imap(fn, tasks, chunksize=chunk)
        except BaseException:
            pool.terminate()
            raise


def _init_and_ignore(init: Callable[..., None], initargs: tuple) -> None:
    ignore_sigint()
    init(*initargs)
