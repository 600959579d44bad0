"""``maskaway train seg|gan`` (not yet available)."""

from __future__ import annotations

import typer

from maskaway_cli.cli.common import not_yet

_EXTRA = {"allow_extra_args": True, "ignore_unknown_options": True}


def register(app: typer.Typer) -> None:
    train = typer.Typer(help="Train the segmenter or the inpainting GAN.", no_args_is_help=True)

    @train.command("seg", context_settings=_EXTRA)
    def seg(ctx: typer.Context) -> None:
        """Train the segmentation U-Net (not yet available)."""
        not_yet("train seg")

    @train.command("gan", context_settings=_EXTRA)
    def gan(ctx: typer.Context) -> None:
        """Train the WGAN-GP inpainting generator (not yet available)."""
        not_yet("train gan")

    app.add_typer(train, name="train")
