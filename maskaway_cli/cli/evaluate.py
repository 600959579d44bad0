"""``maskaway evaluate`` (not yet available)."""

from __future__ import annotations

import typer

from maskaway_cli.cli.common import not_yet


def register(app: typer.Typer) -> None:
    @app.command("evaluate", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def evaluate(ctx: typer.Context) -> None:
        """Evaluate models on a dataset (not yet available)."""
        not_yet("evaluate")
