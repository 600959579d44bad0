"""Where MaskAway keeps things on disk.

platformdirs picks the per-user folders (``appauthor=False`` so Windows gets no vendor folder).
``MASKAWAY_HOME`` overrides all of them with sub-folders of one root (tests and shared clusters use
it); ``MASKAWAY_CACHE_DIR`` overrides only the download cache; ``MASKAWAY_OFFLINE=1`` forbids network.
"""

from __future__ import annotations

import os
from pathlib import Path

APP = "maskaway"


def _home() -> Path | None:
    value = os.environ.get("MASKAWAY_HOME", "").strip()
    return Path(value).expanduser() if value else None


def data_dir() -> Path:
    """User data root (installed weights live under it)."""
    if (home := _home()) is not None:
        return home / "data"
    import platformdirs

    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def cache_dir() -> Path:
    """Download cache: ``MASKAWAY_CACHE_DIR`` > ``MASKAWAY_HOME/cache`` > the platform cache folder."""
    value = os.environ.get("MASKAWAY_CACHE_DIR", "").strip()
    if value:
        return Path(value).expanduser()
    if (home := _home()) is not None:
        return home / "cache"
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP, appauthor=False))


def config_dir() -> Path:
    """User configuration (e.g. a ``registry.toml`` merged over the built-in asset registry)."""
    if (home := _home()) is not None:
        return home / "config"
    import platformdirs

    return Path(platformdirs.user_config_dir(APP, appauthor=False))


def user_weights_dir() -> Path:
    """Weights installed by ``maskaway fetch`` (``*.safetensors``)."""
    return data_dir() / "weights"


def bundled_weights_dir() -> Path:
    """Default weights shipped inside the package."""
    return Path(__file__).resolve().parent / "weights"


def offline() -> bool:
    """True when ``MASKAWAY_OFFLINE`` is set to a true value: no network at all."""
    return os.environ.get("MASKAWAY_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def all_paths() -> dict[str, Path]:
    """Every resolved path, for ``maskaway info``."""
    return {
        "data": data_dir(),
        "cache": cache_dir(),
        "config": config_dir(),
        "weights": user_weights_dir(),
        "bundled_weights": bundled_weights_dir(),
    }
