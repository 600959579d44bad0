"""``maskaway info``: versions, device, paths and installed weights."""

from __future__ import annotations

import typer

from maskaway_cli.cli.common import handle_errors


def register(app: typer.Typer) -> None:
    @app.command("info")
    @handle_errors
    def info(
        json_out: bool = typer.Option(False, "--json", help="Write the report as JSON to stdout."),
    ) -> None:
        """Show versions, the compute device, resolved paths and installed weights."""
        from maskaway_cli.console import console, emit_json
        from maskaway_cli.sysinfo import collect

        report = collect()
        if json_out:
            emit_json(report)
            return
        from rich.table import Table

        table = Table(show_header=False, box=None)
        for key, value in report["versions"].items():
            table.add_row(key, str(value))
        table.add_row("device", report["device"]["summary"])
        for key, value in report["paths"].items():
            table.add_row(f"path: {key}", value)
        for w in report["weights"] or [{"name": "(none installed)", "sha256": "", "path": ""}]:
            table.add_row("weights", f"{w['name']}  {w['sha256'][:16]}  {w['path']}".rstrip())
        console().print(table)
