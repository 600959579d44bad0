"""What every command shares: turning errors into one line and an exit code, and signal handling."""

from __future__ import annotations

import functools
import signal
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from maskaway_cli.errors import MaskAwayError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3
EXIT_SIGINT, EXIT_SIGTERM = 130, 143


def _on_sigterm(signum: int, frame: object) -> None:
    # Turn SIGTERM into an exception so `finally` blocks clean up temp files exactly as on Ctrl-C.
    raise SystemExit(EXIT_SIGTERM)


def handle_errors(fn: F) -> F:
    """Run a command body: MaskAwayError → one ``error:`` line and its exit code; Ctrl-C → 130."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from maskaway_cli.console import error_line

        previous = signal.signal(signal.SIGTERM, _on_sigterm)
        try:
            return fn(*args, **kwargs)
        except MaskAwayError as exc:
            error_line(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            error_line("interrupted")
            raise typer.Exit(EXIT_SIGINT) from None
        finally:
            signal.signal(signal.SIGTERM, previous)

    return wrapper  # type: ignore[return-value]


def not_yet(command: str) -> None:
    """Body of a command registered before its implementation lands."""
    from maskaway_cli.console import error_line

    error_line(f"'maskaway {command}' is not yet available in this version")
    raise typer.Exit(EXIT_USAGE)


def split_list(values: list[str] | None) -> tuple[str, ...]:
    """Accept both ``--types a,b`` and ``--types a --types b``."""
    return tuple(v.strip() for item in values or [] for v in item.split(",") if v.strip())


# Options several commands share, defined once so they read and behave the same everywhere.
SOURCES = typer.Argument(..., help="Photos, folders (searched recursively), .zip/.tar* archives.")
COLORS = typer.Option(None, "--colors", help="Colours: names, #rrggbb or 'random'.")
COLOR_WEIGHT = typer.Option(0.5, help="Probability that a colour is applied to a mask.")
TEXTURES = typer.Option(None, "--textures", help="stripes, checks, dots, floral or image files.")
TEXTURE_WEIGHT = typer.Option(0.5, help="Probability that a texture is applied to a mask.")
TEMPLATES = typer.Option(None, help="A MaskTheFace-format template folder (masks.cfg), pooled with ours.")
SEED = typer.Option(0, help="Random seed: same inputs, seed and options give identical files.")
WORKERS = typer.Option(0, help="Worker processes (0: one per CPU core).")
DETECTOR = typer.Option("retina", help="Face detector: retina (default), ssd, hog or cnn.")
CONFIDENCE = typer.Option(None, help="Detector score threshold (default: retina 0.7, ssd 0.4).")
JSON = typer.Option(False, "--json", help="Write the summary as JSON to stdout.")
