"""``maskaway generate SRC... -o DATASET``: real face photos → aligned masked/original/binary triplets."""

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
    @app.command("generate")
    @handle_errors
    def generate(
        sources: list[Path] = SOURCES,
        output: Path = typer.Option(..., "-o", "--output", help="Dataset folder to write (or resume)."),
        size: int = typer.Option(64, help="Side of the aligned square crops, in pixels (64, 128, 256)."),
        types: list[str] = typer.Option(None, "--types", help="Mask types, comma-separated (default: all)."),
        colors: list[str] = COLORS,
        color_weight: float = COLOR_WEIGHT,
        textures: list[str] = TEXTURES,
        texture_weight: float = TEXTURE_WEIGHT,
        templates: Path = TEMPLATES,
        per_face: int = typer.Option(1, help="Masked versions written for each face."),
        seed: int = SEED,
        workers: int = WORKERS,
        limit: int = typer.Option(None, help="Use at most this many source images."),
        split: str = typer.Option("0.9,0.05,0.05", help="train,val,test fractions, grouped by source image."),
        overwrite: bool = typer.Option(False, help="Delete an existing dataset in OUTPUT and start again."),
        detector: str = DETECTOR,
        confidence: float = CONFIDENCE,
        min_face: int = typer.Option(40, help="Smallest face to use, in photo pixels."),
        bare: float = typer.Option(0.0, help="Share of samples left without a mask (empty binary mask)."),
        degrade: float = typer.Option(0.0, help="Share of samples given photo degradations (JPEG, blur, noise, light, cast, scale)."),
        worn_low: float = typer.Option(0.0, help="Share of masks worn under the nose or on the chin."),
        gaiter: float = typer.Option(0.0, help="Share of masks whose fabric runs down the neck (gaiters, bandanas)."),
        valve: float = typer.Option(0.0, help="Share of masks with an exhalation valve."),
        lookalike: float = typer.Option(0.0, help="Share of the --bare faces given a scarf or a microphone."),
        preview: Path = typer.Option(None, help="Also write a contact sheet PNG of 64 triplets here."),
        json_out: bool = JSON,
    ) -> None:
        """Make training triplets (masked / original / binary mask) from real face photos."""
        from maskaway_cli.config import GenerateConfig, SplitFractions
        from maskaway_cli.console import RichReporter
        from maskaway_cli.masking.generate import generate as run

        config = GenerateConfig(
            sources=tuple(sources), output=output, size=size, types=split_list(types),
            colors=split_list(colors), color_weight=color_weight, textures=split_list(textures),
            texture_weight=texture_weight, templates=templates, per_face=per_face, seed=seed,
            workers=workers or os.cpu_count() or 1, limit=limit, split=SplitFractions.parse(split),
            overwrite=overwrite, detector=detector, confidence=confidence, min_face=min_face,
            bare=bare, degrade=degrade, worn_low=worn_low, gaiter=gaiter, valve=valve, lookalike=lookalike,
        )
        with RichReporter() as reporter:
            summary = run(config, reporter=reporter)
        if preview is not None:
            from maskaway_cli.masking.preview import contact_sheet

            contact_sheet(output, preview)
        _render(summary, json_out)
        if summary.errors:
            raise typer.Exit(EXIT_PARTIAL)


def _render(summary, json_out: bool) -> None:
    from maskaway_cli.console import console, emit_json

    if json_out:
        emit_json({"command": "generate", **summary.as_dict()})
        return
    c = console()
    rate = summary.faces / summary.seconds if summary.seconds else 0.0
    c.print(
        f"images read {summary.images}, faces found {summary.faces}, samples written {summary.samples}"
        + (f" (+{summary.resumed_samples} kept from before)" if summary.resumed_samples else "")
        + f" in {summary.seconds:.1f}s ({rate:.1f} faces/s)"
    )
    c.print("splits: " + ", ".join(f"{k} {v}" for k, v in summary.splits.items()))
    for s in summary.skipped:
        c.print(f"  skipped {s.name}: {s.reason}", markup=False, highlight=False)
