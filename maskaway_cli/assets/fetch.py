"""Fetch orchestration: registry entry → verified files in place (→ extracted archive) → record.

Everything a command needs is here; ``cli/fetch.py`` only parses options and renders results.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from maskaway_cli import paths
from maskaway_cli.assets import archives, cache, gdrive
from maskaway_cli.assets.http import Expected, HttpConfig, default_html_error, download, hash_file, new_session
from maskaway_cli.assets.registry import Asset, asset_from_dict
from maskaway_cli.errors import ArchiveError, ChecksumError, DownloadError, OfflineError
from maskaway_cli.progress import Reporter, null_reporter


@dataclass(frozen=True)
class FileResult:
    path: Path
    sha256: str
    size: int
    downloaded: bool  # False when the cached copy verified and was kept


@dataclass(frozen=True)
class FetchResult:
    name: str
    target: Path
    files: tuple[FileResult, ...]
    extracted: Path | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ok": True,
            "target": str(self.target),
            "extracted": str(self.extracted) if self.extracted else None,
            "files": [{"path": str(f.path), "sha256": f.sha256, "size": f.size, "downloaded": f.downloaded} for f in self.files],
        }


@dataclass(frozen=True)
class FetchOptions:
    dest: Path | None = None  # where files land instead of the default folder
    force: bool = False  # download (and extract) again even when the cache verifies
    http: HttpConfig = field(default_factory=HttpConfig)
    gdrive_base: str | None = None  # Drive base URL (tests); None → MASKAWAY_GDRIVE_URL or Drive
    limits: archives.ArchiveLimits = field(default_factory=archives.ArchiveLimits)


@dataclass(frozen=True)
class _Planned:
    rel: str  # '/'-separated path under the target folder
    urls: tuple[str, ...]
    expected: Expected
    drive: bool = False


def target_dir(asset: Asset, dest: Path | None = None) -> Path:
    """Where an asset's files land: ``dest``, the user weights folder, or ``cache_dir()/NAME``."""
    if dest is not None:
        return dest.expanduser().resolve()
    return paths.user_weights_dir() if asset.kind == "weights" else paths.cache_dir() / asset.name


def adhoc_asset(url: str, *, sha256: str = "", md5: str = "") -> Asset:
    """A one-off asset for ``--url``: named after its checksum (or the URL) so re-runs hit the cache."""
    if urlsplit(url).scheme not in {"http", "https"}:
        raise DownloadError(f"--url must be an http(s) URL, got {url!r}")
    key = (sha256 or md5 or hashlib.sha256(url.encode()).hexdigest()).lower()
    return asset_from_dict(f"url-{key[:16]}", {"urls": [url], "sha256": sha256, "md5": md5, "kind": "dataset"})


def adhoc_assets() -> list[Asset]:
    """The ``--url`` downloads the cache has records of (so ``--verify`` covers them too)."""
    found = []
    for path in sorted(cache.records_dir().glob("url-*.json")) if cache.records_dir().is_dir() else []:
        record = cache.read_record(path.stem)
        if record and record.get("urls") and record["files"]:
            found.append(asset_from_dict(path.stem, {"urls": record["urls"], "filename": record["files"][0]["path"],
                                                     "sha256": record.get("sha256", ""), "md5": record.get("md5", "")}))
    return found


def _expected(asset: Asset) -> Expected:
    return Expected(sha256=asset.sha256, md5=asset.md5, size=asset.size)


def _file_ok(path: Path, expected: Expected) -> tuple[bool, str, int]:
    """(verifies, sha256, size) of a file already on disk."""
    if not path.is_file():
        return False, "", 0
    sha, md5, size = hash_file(path)
    ok = (
        (expected.size is None or size == expected.size)
        and (not expected.sha256 or sha == expected.sha256)
        and (not expected.md5 or md5 == expected.md5)
    )
    return ok, sha, size


def _recorded(asset: Asset, target: Path) -> dict[str, Expected]:
    """Checksums the last verified fetch recorded, by relative path (only for the same target)."""
    record = cache.read_record(asset.name)
    if not record or record.get("target") != str(target):
        return {}
    return {f["path"]: Expected(sha256=f["sha256"], size=f["size"]) for f in record["files"]}


def _plan(asset: Asset, opts: FetchOptions, session: Any, recorded: dict[str, Expected]) -> list[_Planned]:
    if asset.source == "gdrive-folder":
        files = gdrive.list_folder(asset.gdrive_id, session=session, config=opts.http, base=opts.gdrive_base)
        return [_Planned(f.path, (f.id,), recorded.get(f.path, Expected()), drive=True) for f in files]
    # Without a published checksum, the hash recorded by the first verified fetch is the reference.
    expected = _expected(asset) if asset.has_checksum else recorded.get(asset.filename, _expected(asset))
    if asset.source == "gdrive-file":
        return [_Planned(asset.filename, (asset.gdrive_id,), expected, drive=True)]
    return [_Planned(asset.filename, asset.urls, expected)]


def _overall(reporter: Reporter) -> Reporter:
    """Forward per-file byte counts to the ``overall`` bar too."""

    def report(event: str, /, **fields: Any) -> None:
        reporter(event, **fields)
        if event == "advance" and str(fields.get("task", "")).startswith("file:"):
            reporter("advance", task="overall", n=fields.get("n", 1))

    return report


def _download_one(item: _Planned, dest: Path, opts: FetchOptions, session: Any, reporter: Reporter) -> FileResult:
    errors: list[Exception] = []
    for url in item.urls:
        try:
            if item.drive:
                real = gdrive.resolve_file(url, session=session, config=opts.http, base=opts.gdrive_base)
                got = download(real, dest, expected=item.expected, config=opts.http, session=session,
                               reporter=reporter, task=f"file:{item.rel}", html_error=gdrive.page_error)
            else:
                got = download(url, dest, expected=item.expected, config=opts.http, session=session,
                               reporter=reporter, task=f"file:{item.rel}", html_error=default_html_error)
            return FileResult(path=got.path, sha256=got.sha256, size=got.size, downloaded=True)
        except DownloadError as exc:
            errors.append(exc)
            if len(item.urls) > 1:
                reporter("note", text=f"mirror failed: {exc}")
    if len(errors) == 1:
        raise errors[0]
    raise DownloadError(f"{item.rel}: every mirror failed; last error: {errors[-1]}")


def _reuse_or_download(item: _Planned, target: Path, opts: FetchOptions, session: Any, reporter: Reporter) -> FileResult:
    dest = target.joinpath(*item.rel.split("/"))
    if dest.exists() and not opts.force:
        ok, sha, size = _file_ok(dest, item.expected)
        if ok:
            return FileResult(path=dest, sha256=sha, size=size, downloaded=False)
        reporter("note", text=f"{dest} is corrupt or incomplete in the cache; downloading it again")
        dest.unlink()
    return _download_one(item, dest, opts, session, reporter)


def fetch_asset(
    asset: Asset, *, opts: FetchOptions = FetchOptions(), session: Any = None, reporter: Reporter = null_reporter
) -> FetchResult:
    """Make ``asset`` present and verified under its target folder; extract it if it is an archive.

    With ``MASKAWAY_OFFLINE=1`` only the cache is used (OfflineError when it is cold).
    """
    target = target_dir(asset, opts.dest)
    if paths.offline():
        return _from_cache(asset, target, opts, reporter)
    session = session or new_session()
    with cache.locked(f"{asset.name}\n{target}", reporter):
        recorded = _recorded(asset, target)
        plan = _plan(asset, opts, session, recorded)
        total = sum(p.expected.size or 0 for p in plan) if all(p.expected.size for p in plan) else None
        report = _overall(reporter)
        reporter("begin", task="overall", total=total, description=f"{asset.name} (all files)")
        try:
            files = [_reuse_or_download(p, target, opts, session, report) for p in plan]
        finally:
            reporter("end", task="overall")
        for item, f in zip(plan, files):
            if f.downloaded and not item.expected.sha256 and not asset.sha256:
                reporter("note", text=f"{item.rel}  sha256 {f.sha256}  (no published checksum; recorded)")
        extracted = _extract(asset, target, files, opts, reporter)
        cache.write_record(asset.name, {
            "name": asset.name, "target": str(target), "urls": list(asset.urls),
            "sha256": asset.sha256, "md5": asset.md5,
            "files": [{"path": p.rel, "sha256": f.sha256, "size": f.size} for p, f in zip(plan, files)],
        })
    return FetchResult(name=asset.name, target=target, files=tuple(files), extracted=extracted)


def _extract(asset: Asset, target: Path, files: list[FileResult], opts: FetchOptions, reporter: Reporter) -> Path | None:
    if not asset.archive:
        return None
    out = target / asset.extract_dir
    if archives.is_extracted(out) and not opts.force and not any(f.downloaded for f in files):
        return out
    try:
        return archives.extract(files[0].path, out, kind=asset.archive, limits=opts.limits, reporter=reporter)
    except ArchiveError:
        # An unsafe archive verified against a published checksum is still unsafe: do not keep it.
        cache.drop_record(asset.name)
        raise


def _from_cache(asset: Asset, target: Path, opts: FetchOptions, reporter: Reporter) -> FetchResult:
    record = cache.read_record(asset.name)
    if not record or record.get("target") != str(target):
        raise OfflineError(
            f"MASKAWAY_OFFLINE is set and '{asset.name}' is not in the cache ({target}); "
            f"run 'maskaway fetch {asset.name}' with network access first"
        )
    result = verify_asset(asset, dest=opts.dest)
    if result["status"] != "ok":
        raise OfflineError(f"MASKAWAY_OFFLINE is set and the cached '{asset.name}' does not verify ({result['status']})")
    files = [FileResult(path=Path(f["path"]), sha256=f["sha256"], size=f["size"], downloaded=False) for f in result["files"]]
    extracted = _extract(asset, target, files, opts, reporter)
    return FetchResult(name=asset.name, target=target, files=tuple(files), extracted=extracted)


def verify_asset(asset: Asset, *, dest: Path | None = None, reporter: Reporter = null_reporter) -> dict[str, Any]:
    """Re-hash what is cached for ``asset``: status ``ok``, ``missing`` or ``corrupt``, file by file."""
    target = target_dir(asset, dest)
    recorded = _recorded(asset, target)
    if not recorded:
        return {"name": asset.name, "status": "missing", "target": str(target), "files": []}
    files = []
    reporter("begin", task="verify", total=len(recorded), description=f"verify {asset.name}")
    for rel, expected in recorded.items():
        if asset.has_checksum and rel == asset.filename:
            expected = Expected(sha256=asset.sha256 or expected.sha256, md5=asset.md5, size=expected.size)
        path = target.joinpath(*rel.split("/"))
        ok, sha, size = _file_ok(path, expected)
        state = "ok" if ok else ("missing" if not path.exists() else "corrupt")
        files.append({"path": str(path), "sha256": sha, "size": size, "status": state})
        reporter("advance", task="verify", n=1)
    reporter("end", task="verify")
    states = {f["status"] for f in files}
    status = "ok" if states == {"ok"} else ("corrupt" if "corrupt" in states else "missing")
    return {"name": asset.name, "status": status, "target": str(target), "files": files}


def list_assets(registry: dict[str, Asset], *, dest: Path | None = None) -> list[dict[str, Any]]:
    """One row per asset: name, kind, size, licence, and whether a verified copy is recorded."""
    rows = []
    for asset in registry.values():
        target = target_dir(asset, dest)
        recorded = _recorded(asset, target)
        cached = bool(recorded) and all(
            target.joinpath(*rel.split("/")).is_file() and target.joinpath(*rel.split("/")).stat().st_size == e.size
            for rel, e in recorded.items()
        )
        size = asset.size if asset.size is not None else (sum(e.size or 0 for e in recorded.values()) or None)
        rows.append({
            "name": asset.name, "kind": asset.kind, "source": asset.source, "size": size,
            "license": asset.license, "cached": cached, "description": asset.description,
            "checksum": "sha256" if asset.sha256 else ("md5" if asset.md5 else "recorded on first fetch"),
        })
    return rows


__all__ = ["FetchOptions", "FetchResult", "FileResult", "adhoc_asset", "fetch_asset", "list_assets",
           "target_dir", "verify_asset", "ChecksumError"]
