"""``maskaway generate`` (placeholder until the implementation lands)."""

from __future__ import annotations

import typer

from maskaway_cli.cli.common import not_yet


def register(app: typer.Typer) -> None:
    @app.command("generate", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def generate(ctx: typer.Context) -> None:
        """Make training triplets from real face photos."""
        not_yet("generate")
