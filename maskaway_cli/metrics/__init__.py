"""Metrics: segmentation (``seg``: IoU, Dice, precision, recall) and images (``image``: L1, PSNR, SSIM)."""
