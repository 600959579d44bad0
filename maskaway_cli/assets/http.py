"""The download engine: one URL into one verified file, resumable, with retries and timeouts.

Failure modes peers have and this engine avoids: a truncated body accepted as complete (size and
Content-Length are checked), a whole body appended to a partial file when the server ignores
``Range`` (a 200 restarts from zero), an HTML error page saved as the payload (rejected with the
page's own text), a half-written file at the final name (the file appears only after it verified).
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from maskaway_cli import __version__
from maskaway_cli.errors import ChecksumError, DownloadError, MaskAwayError
from maskaway_cli.progress import Reporter, null_reporter

USER_AGENT = f"maskaway/{__version__}"
RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


@dataclass(frozen=True)
class HttpConfig:
    """Timeouts (seconds) and retry policy. Tests shrink these; defaults suit slow links."""

    connect_timeout: float = 15.0
    read_timeout: float = 60.0
    max_attempts: int = 30  # hard cap on requests for one URL
    max_stalled: int = 6  # consecutive attempts that add no byte
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    retry_after_max: float = 600.0
    chunk_size: int = 1 << 20
    free_margin: int = 64 << 20  # keep this much disk free beyond the download
    html_limit: int = 2 << 20  # most bytes of an HTML page read for its error text


@dataclass(frozen=True)
class Expected:
    """What the finished file must be; empty fields are not checked."""

    sha256: str = ""
    md5: str = ""
    size: int | None = None


@dataclass(frozen=True)
class Downloaded:
    path: Path
    sha256: str
    md5: str
    size: int


HtmlHandler = Callable[[str, int, str], MaskAwayError]


class _Retry(Exception):
    def __init__(self, reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.wait = wait


def new_session() -> Any:
    import requests

    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    return session


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title, self.text, self._skip, self._in_title = "", [], 0, False

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self._skip += tag in {"script", "style"}
        self._in_title = self._in_title or tag == "title"

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in {"script", "style"} and self._skip > 0
        self._in_title = self._in_title and tag != "title"

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip and data.strip():
            self.text.append(data.strip())


def page_text(html: str, limit: int = 300) -> str:
    """The title and first visible words of an HTML page, on one line."""
    parser = _TextExtractor()
    parser.feed(html)
    words = " ".join(" ".join([parser.title.strip(), *parser.text]).split())
    return words[:limit] + ("…" if len(words) > limit else "") or "(empty page)"


def default_html_error(url: str, status: int, html: str) -> MaskAwayError:
    return DownloadError(f"{url}: got an HTML page instead of the file (HTTP {status}): {page_text(html)}")


def is_html(response: Any) -> bool:
    return response.headers.get("Content-Type", "").split(";")[0].strip().lower() in {
        "text/html",
        "application/xhtml+xml",
    }


def read_text(response: Any, limit: int) -> str:
    body = b""
    for chunk in response.iter_content(64 << 10):
        body += chunk
        if len(body) >= limit:
            break
    return body[:limit].decode(response.encoding or "utf-8", errors="replace")


def retry_after(value: str | None, cap: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), cap)
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return min(max(0.0, when - time.time()), cap)


def backoff(config: HttpConfig, failures: int) -> float:
    return min(config.backoff_max, config.backoff_base * 2 ** max(0, failures - 1))


def check_free_space(folder: Path, needed: int, config: HttpConfig) -> None:
    free = shutil.disk_usage(folder).free
    if needed + config.free_margin > free:
        raise DownloadError(
            f"not enough free disk space in {folder}: need {needed / 1e9:.2f} GB, {free / 1e9:.2f} GB free"
        )


def part_path(dest: Path) -> Path:
    """The temp file for ``dest``, unique to this process and thread, hidden beside it."""
    return dest.with_name(f".{dest.name}.{os.getpid()}-{threading.get_ident()}.part")


def leftover_parts(dest: Path) -> list[Path]:
    return sorted(dest.parent.glob(f".{glob_escape(dest.name)}.*.part"))


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def _adopt_leftovers(dest: Path, part: Path, url: str) -> dict[str, str]:
    """Take over the largest partial file an interrupted run left (caller holds the asset lock)."""
    best: Path | None = None
    for old in leftover_parts(dest):
        if old != part and (best is None or old.stat().st_size > best.stat().st_size):
            best = old
    if best is not None:
        os.replace(best, part)
        meta_old = best.with_name(best.name + ".json")
        if meta_old.exists():
            os.replace(meta_old, part.with_name(part.name + ".json"))
    for old in leftover_parts(dest):
        if old != part:
            discard(old)
    meta = _read_meta(part)
    return meta if meta.get("url") == url else {}


def _read_meta(part: Path) -> dict[str, str]:
    try:
        return json.loads(part.with_name(part.name + ".json").read_text())
    except (OSError, ValueError):
        return {}


def discard(part: Path) -> None:
    for p in (part, part.with_name(part.name + ".json")):
        p.unlink(missing_ok=True)


def _hashers(part: Path, upto: int) -> tuple[Any, Any]:
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    if upto:
        with part.open("rb") as fh:
            left = upto
            while left and (chunk := fh.read(min(left, 1 << 20))):
                sha.update(chunk)
                md5.update(chunk)
                left -= len(chunk)
    return sha, md5


@dataclass
class _State:
    """One download in flight: bytes on disk, running hashes, the server's validator."""

    part: Path
    pos: int
    validator: str
    sha: Any = None
    md5: Any = None
    total: int | None = None

    def restart(self) -> None:
        self.part.write_bytes(b"")
        self.pos, self.sha, self.md5 = 0, None, None


def download(
    url: str,
    dest: Path,
    *,
    expected: Expected = Expected(),
    config: HttpConfig = HttpConfig(),
    session: Any = None,
    reporter: Reporter = null_reporter,
    task: str = "file",
    html_error: Callable[[str, int, str], MaskAwayError] = default_html_error,
) -> Downloaded:
    """Download ``url`` to ``dest`` and verify it; the caller holds the lock for ``dest``.

    ``dest`` appears (atomically, via ``os.replace``) only after size and checksums matched. A partial
    file survives network failures and Ctrl-C (the next run resumes it) but never a checksum or
    protocol error.
    """
    import requests

    session = session or new_session()
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)
    meta = _adopt_leftovers(dest, part, url)
    pos = part.stat().st_size if part.exists() else 0
    if pos and not meta.get("validator") and not (expected.sha256 or expected.md5):
        pos = 0  # nothing proves the old bytes belong to today's file
    state = _State(part=part, pos=pos, validator=meta.get("validator", ""))
    if not part.exists() or pos == 0:
        part.write_bytes(b"")
    if expected.size is not None:
        check_free_space(dest.parent, expected.size - pos, config)
    reporter("begin", task=task, total=expected.size, description=dest.name)
    reporter("advance", task=task, n=pos)
    try:
        _loop(url, session, state, expected, config, reporter, task, html_error, requests)
        return _finish(state, dest, expected, url)
    except (ChecksumError, _ProtocolError):
        discard(part)
        raise
    finally:
        if part.exists() and part.stat().st_size == 0:
            discard(part)  # nothing worth resuming
        reporter("end", task=task)


class _ProtocolError(DownloadError):
    """The server broke HTTP's rules (e.g. a Content-Range that does not start where we asked)."""


def _loop(url, session, state, expected, config, reporter, task, html_error, requests) -> None:
    attempts = stalled = 0
    while True:
        attempts += 1
        before = state.pos
        try:
            _attempt(url, session, state, config, reporter, task, html_error)
            return
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError, _Retry) as exc:
            stalled = 0 if state.pos > before else stalled + 1
            reason = _reason(exc)
            if stalled >= config.max_stalled or attempts >= config.max_attempts:
                raise DownloadError(f"{url}: giving up after {attempts} attempts: {reason}") from None
            wait = exc.wait if isinstance(exc, _Retry) and exc.wait is not None else backoff(config, stalled)
            reporter("note", text=f"{url}: {reason}; retrying in {wait:.1f}s")
            time.sleep(wait)


def _reason(exc: Exception) -> str:
    if isinstance(exc, _Retry):
        return str(exc)
    name = type(exc).__name__
    return "timed out" if "Timeout" in name else f"connection error ({name})"


def _attempt(url, session, state, config, reporter, task, html_error) -> None:
    headers = {"Accept-Encoding": "identity"}  # byte offsets must be offsets of the file itself
    if state.pos:
        headers["Range"] = f"bytes={state.pos}-"
        if state.validator:
            headers["If-Range"] = state.validator
    timeout = (config.connect_timeout, config.read_timeout)
    with session.get(url, headers=headers, stream=True, timeout=timeout) as resp:
        if resp.status_code in RETRY_STATUS:
            wait = retry_after(resp.headers.get("Retry-After"), config.retry_after_max)
            raise _Retry(f"HTTP {resp.status_code}", wait)
        if resp.status_code == 416:  # our offset is past the server's file: start again
            reporter("advance", task=task, n=-state.pos)
            state.restart()
            raise _Retry("HTTP 416 (range not satisfiable), restarting", 0.0)
        if resp.status_code >= 400 or is_html(resp):
            text = read_text(resp, config.html_limit) if is_html(resp) else ""
            if text:
                raise html_error(url, resp.status_code, text)
            raise DownloadError(f"{url}: HTTP {resp.status_code} {resp.reason or ''}".rstrip())
        _begin_body(resp, state, config, reporter, task)
        _write_body(resp, state, config, reporter, task)


def _begin_body(resp, state: _State, config: HttpConfig, reporter: Reporter, task: str) -> None:
    length = resp.headers.get("Content-Length")
    length = int(length) if length and length.isdigit() else None
    if resp.status_code == 206:
        match = _CONTENT_RANGE.match(resp.headers.get("Content-Range", "").strip())
        if not match or int(match.group(1)) != state.pos:
            got = resp.headers.get("Content-Range") or "none"
            raise _ProtocolError(f"{resp.url}: wrong Content-Range {got!r} for a resume at byte {state.pos}")
        state.total = int(match.group(3)) if match.group(3) != "*" else None
    elif resp.status_code == 200:
        if state.pos:  # the server ignored Range (or the file changed): the body is the whole file
            reporter("advance", task=task, n=-state.pos)
            state.restart()
        state.total = length
    else:
        raise DownloadError(f"{resp.url}: unexpected HTTP {resp.status_code}")
    validator = resp.headers.get("ETag", "")
    if not validator or validator.startswith("W/"):  # If-Range needs a strong validator
        validator = resp.headers.get("Last-Modified", "")
    state.validator = validator
    meta = {"url": resp.request.url if resp.request else "", "validator": validator}
    state.part.with_name(state.part.name + ".json").write_text(json.dumps(meta))
    if state.total is not None:
        check_free_space(state.part.parent, state.total - state.pos, config)
        reporter("total", task=task, total=state.total)


def _write_body(resp, state: _State, config: HttpConfig, reporter: Reporter, task: str) -> None:
    if state.sha is None:
        state.sha, state.md5 = _hashers(state.part, state.pos)
    with state.part.open("r+b") as fh:
        fh.seek(state.pos)
        fh.truncate()
        for chunk in resp.iter_content(config.chunk_size):
            fh.write(chunk)
            state.sha.update(chunk)
            state.md5.update(chunk)
            state.pos += len(chunk)
            reporter("advance", task=task, n=len(chunk))
    if state.total is not None and state.pos < state.total:
        raise _Retry(f"connection closed at byte {state.pos} of {state.total}")
    if state.total is not None and state.pos > state.total:
        raise _ProtocolError(f"{resp.url}: server sent {state.pos} bytes, more than the {state.total} announced")


def _finish(state: _State, dest: Path, expected: Expected, url: str) -> Downloaded:
    if state.sha is None:
        state.sha, state.md5 = _hashers(state.part, state.pos)
    sha, md5 = state.sha.hexdigest(), state.md5.hexdigest()
    problems = []
    if expected.size is not None and state.pos != expected.size:
        problems.append(f"size {state.pos} != expected {expected.size}")
    if expected.sha256 and sha != expected.sha256:
        problems.append(f"sha256 {sha} != expected {expected.sha256}")
    if expected.md5 and md5 != expected.md5:
        problems.append(f"md5 {md5} != expected {expected.md5}")
    if problems:
        raise ChecksumError(f"{url}: downloaded file does not verify ({'; '.join(problems)}); nothing installed")
    os.replace(state.part, dest)
    discard(state.part)
    return Downloaded(path=dest, sha256=sha, md5=md5, size=state.pos)


def hash_file(path: Path) -> tuple[str, str, int]:
    """(sha256, md5, size) of a file on disk."""
    sha, md5 = _hashers(path, path.stat().st_size)
    return sha.hexdigest(), md5.hexdigest(), path.stat().st_size


def get_page(url: str, *, session: Any, config: HttpConfig) -> tuple[int, str, Any]:
    """GET a small page (HTML/JSON) with the engine's retry policy: (status, text, response headers)."""
    import requests

    attempts = 0
    while True:
        attempts += 1
        try:
            timeout = (config.connect_timeout, config.read_timeout)
            with session.get(url, stream=True, timeout=timeout) as resp:
                if resp.status_code in RETRY_STATUS:
                    raise _Retry(f"HTTP {resp.status_code}", retry_after(resp.headers.get("Retry-After"), config.retry_after_max))
                return resp.status_code, read_text(resp, config.html_limit), resp.headers
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError, _Retry) as exc:
            if attempts >= config.max_stalled:
                raise DownloadError(f"{url}: giving up after {attempts} attempts: {_reason(exc)}") from None
            wait = exc.wait if isinstance(exc, _Retry) and exc.wait is not None else backoff(config, attempts)
            time.sleep(wait)
