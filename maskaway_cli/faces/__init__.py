"""Faces: detection (masked faces included), 68-point landmarks, canonical alignment, paste-back."""
