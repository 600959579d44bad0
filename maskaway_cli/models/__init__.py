"""The networks: U-Net segmenter and generator (``unet``), WGAN-GP critic (``critic``)."""

from maskaway_cli.models.critic import Critic, CriticConfig
from maskaway_cli.models.unet import Generator, Segmenter, UNet, UNetConfig, inpaint, to_signed, to_unit

__all__ = ["Critic", "CriticConfig", "Generator", "Segmenter", "UNet", "UNetConfig", "inpaint", "to_signed",
           "to_unit"]
