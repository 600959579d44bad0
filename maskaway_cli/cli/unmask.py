"""``maskaway unmask INPUT... -o OUT``: whole photos in, unmasked photos out."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from maskaway_cli.cli.common import (
    CONFIDENCE,
    DETECTOR,
    EXIT_PARTIAL,
    JSON,
    handle_errors,
)


def register(app: typer.Typer) -> None:
    @app.command("unmask")
    @handle_errors
    def unmask(
        inputs: list[str] = typer.Argument(..., help="Photos, folders, or - to read a list of paths from stdin."),
        output: Path = typer.Option(..., "-o", "--output", help="Folder for the results (never an input folder)."),
        weights: list[str] = typer.Option(None, "--weights", help="Run folder, .safetensors file or installed name; repeat for the pair."),
        device: str = typer.Option("auto", help="auto, cpu or cuda."),
        batch_size: int = typer.Option(32, help="Faces per model call."),
        workers: int = typer.Option(0, help="Processes for loading, detection and saving (0: one per core)."),
        recursive: bool = typer.Option(False, "--recursive", "-r", help="Search input folders recursively."),
        save_masks: bool = typer.Option(False, help="Also write the painted region as NAME.mask.png."),
        compare: bool = typer.Option(False, help="Also write NAME.compare.jpg: original | region | result."),
        mask_dir: Path = typer.Option(None, help="Use these masks (same file names) instead of segmenting."),
        min_presence: float = typer.Option(None, help="Paint a face the mask-presence model gives at least this probability of a mask (default: calibrated; 0 paints every mask the segmenter finds)."),
        min_confidence: float = typer.Option(None, help="Paint a mask the segmenter alone is at least this sure of, whatever the presence model says; without one, the only test (default: calibrated)."),
        threshold: float = typer.Option(None, help="Segmentation probability threshold (default: the segmenter's calibrated one, else 0.5)."),
        skip_existing: bool = typer.Option(False, help="Leave outputs that already exist alone."),
        overwrite: bool = typer.Option(False, help="Replace outputs that already exist."),
        provenance: bool = typer.Option(True, help="Note in each output's metadata what MaskAway synthesized."),
        aligned: bool = typer.Option(False, help="Inputs are already aligned face crops (no detection)."),
        detector: str = DETECTOR,
        min_face: int = typer.Option(20, help="Smallest face to unmask, in photo pixels."),
        confidence: float = CONFIDENCE,
        json_out: bool = JSON,
    ) -> None:
        """Remove face masks from whole photos; everything outside the mask stays bit-identical."""
        from maskaway_cli.console import RichReporter
        from maskaway_cli.unmask import UnmaskConfig
        from maskaway_cli.unmask import unmask as run

        config = UnmaskConfig(
            inputs=tuple(inputs), output=output, weights=tuple(weights or ()), device=device,
            batch_size=batch_size, workers=workers or os.cpu_count() or 1, recursive=recursive,
            save_masks=save_masks, compare=compare, mask_dir=mask_dir, threshold=threshold,
            min_confidence=min_confidence, min_presence=min_presence,
            skip_existing=skip_existing, overwrite=overwrite, provenance=provenance, aligned=aligned,
            detector=detector, confidence=confidence, min_face=min_face,
        )
        stdin_lines = sys.stdin.read().splitlines() if "-" in inputs else None
        with RichReporter() as reporter:
            summary = run(config, stdin_lines=stdin_lines, reporter=reporter)
        _render(summary, json_out)
        if summary.errors:
            raise typer.Exit(EXIT_PARTIAL)


SHOWN = 20  # faces to check listed in the plain summary


def _render(summary, json_out: bool) -> None:
    from maskaway_cli.console import console, emit_json

    if json_out:
        emit_json({"command": "unmask", **summary.as_dict()})
        return
    c = console()
    rate = summary.processed / summary.seconds if summary.seconds else 0.0
    c.print(f"processed {summary.processed} ({rate:.1f} img/s), faces found {summary.faces}, masks removed "
            f"{summary.masks_removed}, images with no face {len(summary.no_face)}, faces with no mask "
            f"{summary.faces_no_mask}, skipped existing {len(summary.skipped_existing)}, errors {len(summary.errors)}")
    for face in summary.faces_left[:SHOWN]:
        where = f"face at {face['box']}" if face["box"] else "face"
        if face["status"].startswith("unsure"):
            why = f"mask covers {face['mask_fraction']:.1%} of the face, mean probability {face['confidence']:.2f}"
        elif "presence" in face:
            why = f"mask presence {face['presence']:.2f}, mask covers {face['mask_fraction']:.1%} of the face"
        else:
            why = f"highest mask probability {face['confidence']:.2f}"
        hint = {"unsure, left alone": "--min-confidence", "mask seen, not segmented": "--threshold or --mask-dir"}.get(
            face["status"], "--min-presence or --mask-dir" if "presence" in face else "--threshold or --mask-dir")
        c.print(f"  {face['status']} {face['input']}: {where} ({why}); try {hint}",
                markup=False, highlight=False)
    if len(summary.faces_left) > SHOWN:
        c.print(f"  ... and {len(summary.faces_left) - SHOWN} more faces to check (--json lists them all)")
    for source, note in summary.notes:
        c.print(f"  note {source}: {note}", markup=False, highlight=False)
    for source, reason in summary.errors:
        c.print(f"  error {source}: {reason}", markup=False, highlight=False)
