"""``maskaway unmask`` (not yet available)."""

from __future__ import annotations

import typer

from maskaway_cli.cli.common import not_yet


def register(app: typer.Typer) -> None:
    @app.command("unmask", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def unmask(ctx: typer.Context) -> None:
        """Unmask whole photos (not yet available)."""
        not_yet("unmask")
