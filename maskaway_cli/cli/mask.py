"""``maskaway mask SRC... -o OUT``: whole photos wearing synthetic masks, plus their binary masks."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from maskaway_cli.cli.common import (
    COLORS,
    COLOR_WEIGHT,
    CONFIDENCE,
    DETECTOR,
    EXIT_PARTIAL,
    JSON,
    SEED,
    SOURCES,
    TEMPLATES,
    TEXTURES,
    TEXTURE_WEIGHT,
    WORKERS,
    handle_errors,
    split_list,
)


def register(app: typer.Typer) -> None:
    @app.command("mask")
    @handle_errors
    def mask(
        sources: list[Path] = SOURCES,
        output: Path = typer.Option(..., "-o", "--output", help="Folder for the masked photos (re-run to resume)."),
        masks: Path = typer.Option(None, "--masks", help="Folder for the binary masks NAME.png (default: OUTPUT-masks)."),
        types: list[str] = typer.Option(None, "--types", help="Mask types, comma-separated; 'random' (default) or 'all' (one output per type)."),
        colors: list[str] = COLORS,
        color_weight: float = COLOR_WEIGHT,
        textures: list[str] = TEXTURES,
        texture_weight: float = TEXTURE_WEIGHT,
        code: str = typer.Option(None, help="A mix, one entry drawn per face: 'cloth-#e54294, surgical_blue, cloth-checks, N95'."),
        templates: Path = TEMPLATES,
        keep_original: bool = typer.Option(False, help="Also write NAME_original.EXT beside each masked photo."),
        seed: int = SEED,
        workers: int = WORKERS,
        overwrite: bool = typer.Option(False, help="Redo every photo, even those an earlier run finished."),
        verbose: bool = typer.Option(False, "--verbose", "-v", help="A line per photo: faces found, masks drawn."),
        detector: str = DETECTOR,
        confidence: float = CONFIDENCE,
        min_face: int = typer.Option(20, help="Smallest face to mask, in photo pixels."),
        json_out: bool = JSON,
    ) -> None:
        """Put realistic masks on every face of whole photos (MaskTheFace's job), keeping each binary mask."""
        from maskaway_cli.config import MaskConfig
        from maskaway_cli.console import RichReporter
        from maskaway_cli.masking.photos import mask_photos

        config = MaskConfig(
            sources=tuple(sources), output=output, masks=masks, types=split_list(types),
            colors=split_list(colors), color_weight=color_weight, textures=split_list(textures),
            texture_weight=texture_weight, code=code, templates=templates, keep_original=keep_original,
            seed=seed, workers=workers or os.cpu_count() or 1, overwrite=overwrite, verbose=verbose,
            detector=detector, confidence=confidence, min_face=min_face,
        )
        with RichReporter() as reporter:
            summary = mask_photos(config, reporter=reporter)
        _render(summary, config, json_out)
        if summary.errors:
            raise typer.Exit(EXIT_PARTIAL)


def _render(summary, config, json_out: bool) -> None:
    from maskaway_cli.console import console, emit_json

    if json_out:
        emit_json({"command": "mask", "output": str(config.output), "masks": str(config.mask_dir),
                   **summary.as_dict()})
        return
    c = console()
    rate = summary.photos / summary.seconds if summary.seconds else 0.0
    c.print(f"photos read {summary.photos} ({rate:.1f} img/s), written {summary.written}, faces masked "
            f"{summary.faces_masked}, no face {len(summary.no_face)}, faces not masked "
            f"{len(summary.faces_not_masked)}, errors {len(summary.errors)}"
            + (f", {summary.resumed} done before" if summary.resumed else ""))
    c.print(f"masked photos in {config.output}, binary masks in {config.mask_dir}", markup=False, highlight=False)
    for s in summary.errors:
        c.print(f"  error {s.name}: {s.reason}", markup=False, highlight=False)
