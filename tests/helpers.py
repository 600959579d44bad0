"""Shared test helpers: where ../shared is, and skips when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
FIXTURES = SHARED / "faces" / "fixtures"
REALMASK = SHARED / "faces" / "realmask"
UTKFACE = SHARED / "faces" / "utkface"
MASKTHEFACE = SHARED / "masktheface"


def need(path: Path) -> Path:
    """Skip the calling test when a ../shared data folder is missing (a user's clone has none)."""
    if not path.exists():
        pytest.skip(f"{path} not available")
    return path


def read_tem_pupils(tem: Path) -> tuple[tuple[float, float], tuple[float, float]]:
    """Pupil centres from a webmorph .tem file (points 0 and 1 of the FRL template)."""
    lines = tem.read_text().split("\n")
    left = tuple(float(v) for v in lines[1].split())
    right = tuple(float(v) for v in lines[2].split())
    return left, right  # type: ignore[return-value]
