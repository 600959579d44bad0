"""The only module that uses rich: the stderr console, progress bars and the ``--json`` emitter.

Progress and messages go to stderr so stdout stays clean for ``--json``. Bars are transient on a
terminal; when stderr is not a TTY (CI, pipes) each task prints plain lines instead.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

JSON_SCHEMA_VERSION = 1

_console: Console | None = None


def console() -> Console:
    """The shared stderr console."""
    global _console
    if _console is None:
        _console = Console(stderr=True, highlight=False, soft_wrap=True)
    return _console


def error_line(message: str) -> None:
    """Print one ``error:`` line (no traceback) on stderr."""
    console().print(f"[bold red]error:[/] {message}", markup=True, highlight=False)


def emit_json(payload: dict[str, Any]) -> None:
    """Write one JSON document to stdout with ``schema_version``; never coloured (FORCE_COLOR-proof)."""
    doc = {"schema_version": JSON_SCHEMA_VERSION, **payload}
    sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
    sys.stdout.flush()


def make_progress(*extra_columns: Any) -> Progress:
    """A transient progress display on stderr; ``extra_columns`` go after the standard ones."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        *extra_columns,
        console=console(),
        transient=True,
        disable=not console().is_terminal,
    )


class RichReporter:
    """Turns core ``Reporter`` events (see ``progress.py``) into rich bars, or plain lines off a TTY.

    ``advance`` fields other than ``n`` are shown after the bar (e.g. ``faces/s``, ``skipped``).
    """

    def __init__(self, progress: Progress | None = None, *, quiet: bool = False) -> None:
        self.progress = progress or make_progress(TextColumn("{task.fields[stats]}"))
        self.quiet = quiet
        self._tasks: dict[str, Any] = {}
        self._plain = not console().is_terminal

    def __enter__(self) -> RichReporter:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def __call__(self, event: str, /, **fields: Any) -> None:
        if self.quiet and event != "note":
            return
        task = fields.pop("task", "main")
        if event == "begin":
            desc = fields.get("description", task)
            self._tasks[task] = self.progress.add_task(desc, total=fields.get("total"), stats="")
            if self._plain:
                total = fields.get("total")
                console().print(f"{desc}: {total if total is not None else '?'} to do")
        elif event == "advance" and task in self._tasks:
            n = fields.pop("n", 1)
            stats = "  ".join(f"{k} {_fmt(v)}" for k, v in fields.items())
            self.progress.update(self._tasks[task], advance=n, stats=stats)
        elif event == "end" and task in self._tasks:
            if self._plain:
                t = next(x for x in self.progress.tasks if x.id == self._tasks[task])
                console().print(f"{t.description}: done {int(t.completed)} in {t.elapsed or 0:.1f}s")
            self.progress.remove_task(self._tasks.pop(task))
        elif event == "note":
            console().print(str(fields.get("text", "")), markup=False, highlight=False)


def _fmt(value: Any) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)
