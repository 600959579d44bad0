"""The reporter callback that core code uses to report progress without printing.

Core functions take ``reporter: Reporter = null_reporter`` and call it with an event name and fields:

- ``reporter("begin", task="faces", total=120, unit="img", description="Generating")``
- ``reporter("advance", task="faces", n=1, **stats)`` (stats such as ``skipped=3`` are shown live)
- ``reporter("end", task="faces")``
- ``reporter("note", text="...")`` (a line for the user, e.g. a skipped file and why)

``console.RichReporter`` renders these; by default nothing happens.
"""

from __future__ import annotations

from typing import Any, Protocol


class Reporter(Protocol):
    def __call__(self, event: str, /, **fields: Any) -> None: ...


def null_reporter(event: str, /, **fields: Any) -> None:
    """Default reporter: ignores everything."""
