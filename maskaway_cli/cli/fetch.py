"""``maskaway fetch`` (not yet available)."""

from __future__ import annotations

import typer

from maskaway_cli.cli.common import not_yet


def register(app: typer.Typer) -> None:
    @app.command("fetch", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def fetch(ctx: typer.Context) -> None:
        """Download datasets and weights into the cache (not yet available)."""
        not_yet("fetch")
