"""Training: ``seg`` (segmenter), ``gan`` (WGAN-GP inpainting), with checkpoints and resume in ``state``."""
