"""``maskaway fetch``: download datasets and weights into the cache (resumable, checksummed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from maskaway_cli.cli.common import EXIT_PARTIAL, handle_errors


def _progress() -> Any:
    """Byte-oriented bars: size done/total, speed and ETA for each file and for the whole asset."""
    from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                               TransferSpeedColumn)

    from maskaway_cli.console import console

    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
        TimeRemainingColumn(), console=console(), transient=True, disable=not console().is_terminal,
    )


def _reporter(quiet: bool) -> Any:
    from maskaway_cli.console import RichReporter

    class ByteReporter(RichReporter):
        def __call__(self, event: str, /, **fields: Any) -> None:
            if event == "total" and fields.get("task") in self._tasks:  # size learnt from the server
                self.progress.update(self._tasks[fields["task"]], total=fields["total"])
            elif event == "begin" and fields.get("task") == "overall" and self._plain:
                return  # off a terminal one line per file is enough
            else:
                super().__call__(event, **fields)

    return ByteReporter(_progress(), quiet=quiet)


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return "?"


def _show_list(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    from maskaway_cli.console import console

    table = Table("name", "kind", "size", "licence", "cached", "description")
    table.columns[0].no_wrap = True
    for r in rows:
        table.add_row(r["name"], r["kind"], _size(r["size"]), r["license"], "yes" if r["cached"] else "no", r["description"])
    console().print(table)


def register(app: typer.Typer) -> None:
    @app.command("fetch")
    @handle_errors
    def fetch(
        names: list[str] = typer.Argument(None, help="Assets to download (see --list)."),
        list_: bool = typer.Option(False, "--list", help="List known assets and whether they are cached."),
        verify: bool = typer.Option(False, "--verify", help="Re-hash cached assets (all, or NAMES)."),
        url: str = typer.Option(None, "--url", help="Download one ad-hoc file from this URL."),
        sha256: str = typer.Option(None, "--sha256", help="Expected sha256 of the --url file."),
        dest: Path = typer.Option(None, "--dest", help="Put files here instead of the cache."),
        force: bool = typer.Option(False, "--force", help="Download again even if the cache verifies."),
        registry_file: Path = typer.Option(None, "--registry", help="A registry TOML merged over the built-in one."),
        json_out: bool = typer.Option(False, "--json", help="Write results as JSON to stdout."),
    ) -> None:
        """Download datasets and weights into the cache: resumable, checksummed, safe to extract."""
        from maskaway_cli.assets import fetch as core
        from maskaway_cli.assets.registry import get_asset, load_registry
        from maskaway_cli.console import emit_json, error_line
        from maskaway_cli.errors import MaskAwayError, UsageError

        names = names or []
        registry = load_registry(registry_file)
        if sum([list_, verify, url is not None]) > 1:
            raise UsageError("use only one of --list, --verify and --url")
        if list_:
            rows = core.list_assets(registry, dest=dest)
            emit_json({"command": "fetch", "assets": rows}) if json_out else _show_list(rows)
            return
        if verify:
            chosen = [get_asset(registry, n) for n in names] or [*registry.values(), *core.adhoc_assets()]
            with _reporter(json_out) as rep:
                results = [core.verify_asset(a, dest=dest, reporter=rep) for a in chosen]
            results = [r for r in results if names or r["status"] != "missing"]
            bad = [r for r in results if r["status"] != "ok"]
            if json_out:
                emit_json({"command": "fetch", "verify": results})
            else:
                for r in results:
                    _line(f"{r['name']}: {r['status']}  ({r['target']})")
            if bad:
                raise MaskAwayError("; ".join(f"{r['name']} is {r['status']}" for r in bad))
            return
        if url is not None:
            chosen = [core.adhoc_asset(url, sha256=sha256 or "")]
        elif sha256:
            raise UsageError("--sha256 goes with --url")
        elif not names:
            raise UsageError("name at least one asset (see 'maskaway fetch --list'), or use --url")
        else:
            chosen = [get_asset(registry, n) for n in dict.fromkeys(names)]
        opts = core.FetchOptions(dest=dest, force=force)
        done: list[dict[str, Any]] = []
        errors: list[MaskAwayError] = []
        with _reporter(json_out) as rep:
            for asset in chosen:
                try:
                    done.append(core.fetch_asset(asset, opts=opts, reporter=rep).to_json())
                except MaskAwayError as exc:
                    if len(chosen) == 1:
                        raise
                    error_line(f"{asset.name}: {exc}")
                    errors.append(exc)
                    done.append({"name": asset.name, "ok": False, "error": str(exc)})
        if json_out:
            emit_json({"command": "fetch", "assets": done})
        else:
            for r in done:
                if r["ok"]:
                    _line(f"{r['name']}: ok  {r['extracted'] or r['target']}")
        if errors:
            raise typer.Exit(EXIT_PARTIAL if len(errors) < len(chosen) else errors[0].exit_code)


def _line(text: str) -> None:
    from maskaway_cli.console import console

    console().print(text, markup=False, highlight=False)
