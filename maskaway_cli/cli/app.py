"""The Typer application: the command tree of DESIGN.md.

Each command group lives in its own module exposing ``register(app)``; heavy libraries (torch, dlib,
OpenCV) are imported inside command bodies so ``maskaway --help`` stays fast.
"""

from __future__ import annotations

import typer

from maskaway_cli import __version__
from maskaway_cli.cli import evaluate, fetch, generate, info, mask, train, unmask

app = typer.Typer(
    name="maskaway",
    help="Remove face masks from photos, and make, train and evaluate the models that do it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"maskaway {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """MaskAway command-line tool."""


for module in (fetch, mask, generate, train, evaluate, unmask, info):
    module.register(app)


def main() -> None:
    app()
