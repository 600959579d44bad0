"""The asset registry: built-in ``registry.toml`` merged with user overrides.

Order of precedence (later wins, field by field): the built-in file, ``config_dir()/registry.toml``,
``--registry FILE``, then environment overrides: ``MASKAWAY_URL_<NAME>`` (e.g.
``MASKAWAY_URL_WEIGHTS_SEG``) replaces one asset's URLs, ``MASKAWAY_MIRROR`` replaces the origin of all.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from maskaway_cli import paths
from maskaway_cli.errors import AssetError

KINDS = ("dataset", "weights")
SOURCES = ("http", "gdrive-file", "gdrive-folder")
ARCHIVES = ("", "zip", "tar", "tar.gz", "tar.bz2", "tar.xz")
_HEX = re.compile(r"^[0-9a-f]+$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


@dataclass(frozen=True)
class Asset:
    """One downloadable thing. ``urls`` are mirrors tried in order; checksums are lower-case hex."""

    name: str
    description: str = ""
    kind: str = "dataset"
    source: str = "http"
    urls: tuple[str, ...] = ()
    gdrive_id: str = ""
    filename: str = ""
    sha256: str = ""
    md5: str = ""
    size: int | None = None
    license: str = ""
    archive: str = ""
    extract_dir: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def has_checksum(self) -> bool:
        return bool(self.sha256 or self.md5)


def builtin_path() -> Path:
    return Path(__file__).resolve().parent / "registry.toml"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise AssetError(f"registry file not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise AssetError(f"registry file {path} is not valid TOML: {exc}") from None


def _check_hex(name: str, key: str, value: str, length: int) -> str:
    value = value.strip().lower()
    if value and (len(value) != length or not _HEX.match(value)):
        raise AssetError(f"registry entry '{name}': {key} must be {length} hex digits, got {value!r}")
    return value


def _safe_filename(name: str, value: str) -> str:
    # The file name becomes a path under the cache: never let it climb out or name a folder.
    if value and (value in {".", ".."} or "/" in value or "\\" in value or "\x00" in value):
        raise AssetError(f"registry entry '{name}': filename {value!r} must be a plain file name")
    return value


def asset_from_dict(name: str, data: dict[str, Any]) -> Asset:
    """Validate one merged registry table and build its ``Asset``."""
    if not _NAME.match(name):
        raise AssetError(f"registry entry name {name!r}: use lower-case letters, digits, '.', '_' or '-'")
    known = {f for f in Asset.__dataclass_fields__ if f not in {"name", "extra"}}
    urls = data.get("urls", data.get("url", ()))
    urls = (urls,) if isinstance(urls, str) else tuple(urls)
    asset = Asset(
        name=name,
        **{k: v for k, v in data.items() if k in known and k != "urls"},
        urls=tuple(str(u) for u in urls),
        extra={k: v for k, v in data.items() if k not in known and k != "url"},
    )
    if asset.kind not in KINDS:
        raise AssetError(f"registry entry '{name}': kind must be one of {', '.join(KINDS)}")
    if asset.source not in SOURCES:
        raise AssetError(f"registry entry '{name}': source must be one of {', '.join(SOURCES)}")
    if asset.archive not in ARCHIVES:
        raise AssetError(f"registry entry '{name}': archive must be one of {', '.join(ARCHIVES[1:])}")
    if asset.source == "http" and not asset.urls:
        raise AssetError(f"registry entry '{name}': an http asset needs at least one URL")
    if asset.source.startswith("gdrive") and not asset.gdrive_id:
        raise AssetError(f"registry entry '{name}': a Google Drive asset needs gdrive_id")
    if asset.size is not None and (not isinstance(asset.size, int) or asset.size < 0):
        raise AssetError(f"registry entry '{name}': size must be a non-negative integer")
    return replace(
        asset,
        sha256=_check_hex(name, "sha256", asset.sha256, 64),
        md5=_check_hex(name, "md5", asset.md5, 32),
        filename=_safe_filename(name, asset.filename or _default_filename(asset)),
        extract_dir=_safe_filename(name, asset.extract_dir or (name if asset.archive else "")),
    )


def _default_filename(asset: Asset) -> str:
    if asset.source == "gdrive-folder":
        return ""
    if asset.urls:
        tail = urlsplit(asset.urls[0]).path.rsplit("/", 1)[-1]
        if tail and tail not in {".", ".."}:
            return tail
    return asset.name


def _merge(base: dict[str, dict[str, Any]], over: dict[str, Any], origin: Path) -> None:
    for name, table in over.items():
        if not isinstance(table, dict):
            raise AssetError(f"registry file {origin}: '{name}' must be a table of fields")
        base.setdefault(name, {}).update(table)


def apply_mirror(asset: Asset, mirror: str) -> Asset:
    """Point an asset at ``mirror``: http URLs keep their path under the mirror's base; a Drive file
    becomes ``MIRROR/NAME/FILENAME``. Drive folders cannot be mirrored (their listing is Drive's)."""
    base = mirror.rstrip("/")
    if asset.source == "http":
        urls = []
        for url in asset.urls:
            parts = urlsplit(url)
            urls.append(base + parts.path + (f"?{parts.query}" if parts.query else ""))
        return replace(asset, urls=tuple(urls))
    if asset.source == "gdrive-file":
        url = f"{base}/{quote(asset.name)}/{quote(asset.filename)}"
        return replace(asset, source="http", urls=(url,))
    return asset


def env_url_var(name: str) -> str:
    return "MASKAWAY_URL_" + re.sub(r"[^A-Z0-9]", "_", name.upper())


def load_registry(user_file: Path | None = None) -> dict[str, Asset]:
    """Every asset by name, after merging user registries and environment overrides."""
    tables: dict[str, dict[str, Any]] = {}
    _merge(tables, _read_toml(builtin_path()), builtin_path())
    for extra in (paths.config_dir() / "registry.toml", user_file):
        if extra is not None and (extra == user_file or extra.is_file()):
            _merge(tables, _read_toml(extra), extra)
    mirror = os.environ.get("MASKAWAY_MIRROR", "").strip()
    assets = {}
    for name, table in tables.items():
        if url := os.environ.get(env_url_var(name), "").strip():
            table = {**table, "source": "http", "urls": [url]}
        asset = asset_from_dict(name, table)
        assets[name] = apply_mirror(asset, mirror) if mirror else asset
    return assets


def get_asset(registry: dict[str, Asset], name: str) -> Asset:
    try:
        return registry[name]
    except KeyError:
        known = ", ".join(sorted(registry))
        raise AssetError(f"unknown asset '{name}' (known: {known})") from None
