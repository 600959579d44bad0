"""``maskaway evaluate DATASET``: metrics, baselines and a contact sheet for a pair of models."""

from __future__ import annotations

from pathlib import Path

import typer

from maskaway_cli.cli.common import handle_errors


def register(app: typer.Typer) -> None:
    @app.command("evaluate")
    @handle_errors
    def evaluate(
        dataset: Path = typer.Argument(..., help="Dataset folder (maskaway generate output, or the release layout)."),
        output: Path = typer.Option(Path("evaluation"), "-o", "--output", help="Folder for report.json, report.md, samples.png."),
        weights: list[str] = typer.Option(None, "--weights", help="Run folder, .safetensors file or installed name; repeat for the pair."),
        split: str = typer.Option("test", help="test, val, train or all (an empty split falls back, with a note)."),
        threshold: float = typer.Option(None, help="Segmentation probability threshold (default: the segmenter's calibrated one, else 0.5)."),
        batch_size: int = typer.Option(32, help="Faces per model call."),
        device: str = typer.Option("auto", help="auto, cpu or cuda."),
        limit: int = typer.Option(None, help="Evaluate at most this many faces, spread over the split."),
        samples: int = typer.Option(32, help="Rows of the contact sheet (0: none)."),
        photos: Path = typer.Option(None, help="Folder of real unmasked photos: mask them, unmask them, measure."),
        seed: int = typer.Option(0, help="Seed of the synthetic masks put on --photos."),
        json_out: bool = typer.Option(False, "--json", help="Write report.json's content to stdout."),
    ) -> None:
        """Measure segmentation and inpainting on a dataset split, with baselines side by side."""
        from maskaway_cli.console import RichReporter, console, emit_json
        from maskaway_cli.evaluation.run import EvaluateConfig
        from maskaway_cli.evaluation.run import evaluate as run
        from maskaway_cli.evaluation.report import summary_text

        config = EvaluateConfig(
            dataset=dataset, output=output, weights=tuple(weights or ()), split=split, threshold=threshold,
            batch_size=batch_size, device=device, limit=limit, samples=samples, photos=photos, seed=seed,
        )
        with RichReporter() as reporter:
            report = run(config, reporter=reporter)
        console().print(summary_text(report), markup=False, highlight=False)
        console().print(f"report: {output / 'report.md'}", markup=False, highlight=False)
        if json_out:
            emit_json(report)
