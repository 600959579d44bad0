"""Google Drive: public files (with the virus-scan confirmation step) and whole public folders.

Written here rather than taken from gdown because gdown lists only the first 50 files of a folder,
appends a whole body to a partial file when Drive ignores ``Range``, and can save Drive's HTML
quota page as the payload. This module only turns Drive ids into direct URLs and Drive's HTML pages
into errors; the bytes go through ``http.download`` like any other file.

The Drive base URL comes from ``MASKAWAY_GDRIVE_URL`` (or the ``base`` argument) so tests can serve
saved pages from a loopback server.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

from maskaway_cli.assets.http import HttpConfig, get_page, is_html, page_text, read_text
from maskaway_cli.errors import DownloadError, MaskAwayError

DEFAULT_BASE = "https://drive.google.com"
MAX_FOLDER_DEPTH = 8
_ID = re.compile(r"^[A-Za-z0-9_-]{10,}$")
_QUOTA = ("too many users have viewed or downloaded", "quota exceeded", "download quota")
_DENIED = ("you need access", "access denied", "request access", "you need permission", "sign in")
_MISSING = ("does not exist", "not found", "no longer available")


def base_url(base: str | None = None) -> str:
    return (base or os.environ.get("MASKAWAY_GDRIVE_URL", "").strip() or DEFAULT_BASE).rstrip("/")


def check_id(drive_id: str) -> str:
    if not _ID.match(drive_id):
        raise DownloadError(f"not a Google Drive id: {drive_id!r}")
    return drive_id


def file_url(file_id: str, base: str | None = None) -> str:
    return f"{base_url(base)}/uc?{urlencode({'export': 'download', 'id': check_id(file_id)})}"


def folder_url(folder_id: str, base: str | None = None) -> str:
    # The embedded folder view lists every item of a folder in plain HTML; the full web UI (what
    # gdown parses) embeds only the first 50 in its JavaScript payload.
    return f"{base_url(base)}/embeddedfolderview?{urlencode({'id': check_id(folder_id)})}"


class _DriveParser(HTMLParser):
    """Collects forms with their inputs, and folder entries (``flip-entry`` blocks)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict[str, Any]] = []
        self.entries: list[dict[str, str]] = []
        self._entry: dict[str, str] | None = None
        self._in_title = False

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = {k: v or "" for k, v in attrs_list}
        classes = attrs.get("class", "").split()
        if tag == "form":
            self.forms.append({"id": attrs.get("id", ""), "action": attrs.get("action", ""), "inputs": {}})
        elif tag == "input" and self.forms and attrs.get("name"):
            self.forms[-1]["inputs"][attrs["name"]] = attrs.get("value", "")
        elif "flip-entry" in classes and attrs.get("id", "").startswith("entry-"):
            self._entry = {"id": attrs["id"][len("entry-") :], "title": "", "href": ""}
            self.entries.append(self._entry)
        elif tag == "a" and self._entry is not None and not self._entry["href"]:
            self._entry["href"] = attrs.get("href", "")
        elif "flip-entry-title" in classes and self._entry is not None:
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title and self._entry is not None:
            self._entry["title"] += data


def parse(html: str) -> _DriveParser:
    parser = _DriveParser()
    parser.feed(html)
    return parser


def confirm_url(html: str, page_url: str) -> str | None:
    """The URL behind the "download anyway" form of Drive's virus-scan page, or None."""
    for form in parse(html).forms:
        inputs = form["inputs"]
        if form["id"] == "download-form" or "confirm" in inputs:
            action = urljoin(page_url, form["action"] or page_url)
            if urlsplit(action).scheme not in {"http", "https"}:
                return None
            return f"{action.split('?')[0]}?{urlencode(inputs)}"
    return None


def page_error(url: str, status: int, html: str) -> MaskAwayError:
    """Turn a Drive HTML page where a file was expected into one clear error."""
    text = page_text(html)
    low = " ".join(html.lower().split())
    if any(k in low for k in _QUOTA):
        return DownloadError(
            "Google Drive refused the download: quota exceeded for this file (too many downloads "
            "recently). Try again in 24 hours or use a mirror (MASKAWAY_MIRROR)."
        )
    if status in {401, 403} or any(k in low for k in _DENIED):
        return DownloadError(f"Google Drive denied access (HTTP {status}): the item is not shared publicly ({text})")
    if status == 404 or any(k in low for k in _MISSING):
        return DownloadError(f"Google Drive: no such file (HTTP {status}): {text}")
    return DownloadError(f"Google Drive sent a page instead of the file (HTTP {status}): {text}")


def resolve_file(file_id: str, *, session: Any, config: HttpConfig, base: str | None = None) -> str:
    """A URL that answers with the file's bytes, following the virus-scan confirmation if Drive asks."""
    import requests

    url = file_url(file_id, base)
    for _ in range(3):
        try:
            timeout = (config.connect_timeout, config.read_timeout)
            with session.get(url, stream=True, timeout=timeout) as resp:
                if resp.status_code < 400 and not is_html(resp):
                    return url  # the body is the file: http.download asks again, with Range
                html = read_text(resp, config.html_limit) if is_html(resp) else ""
                status = resp.status_code
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise DownloadError(f"{url}: {type(exc).__name__} while contacting Google Drive") from None
        if status < 400 and (nxt := confirm_url(html, url)):
            url = nxt
            continue
        raise page_error(url, status, html)
    raise DownloadError(f"Google Drive kept asking to confirm the download of {file_id}")


@dataclass(frozen=True)
class DriveFile:
    id: str
    path: str  # relative, '/'-separated, each part a plain name


def _clean(name: str) -> str:
    name = " ".join(name.split()).replace("/", "_").replace("\\", "_").replace("\x00", "")
    return "_" if name in {"", ".", ".."} else name


def _is_folder(href: str) -> bool:
    return "/folders/" in href or "folderview" in href


def list_folder(
    folder_id: str, *, session: Any, config: HttpConfig, base: str | None = None, _prefix: str = "", _depth: int = 0
) -> list[DriveFile]:
    """Every file under a public folder, recursively, with its path relative to the folder."""
    if _depth > MAX_FOLDER_DEPTH:
        raise DownloadError(f"Google Drive folder {folder_id}: nested deeper than {MAX_FOLDER_DEPTH} levels")
    url = folder_url(folder_id, base)
    status, html, headers = get_page(url, session=session, config=config)
    parsed = parse(html)
    if status >= 400 or (not parsed.entries and "flip-entries" not in html):
        raise page_error(url, status, html)
    files: list[DriveFile] = []
    seen: set[str] = set()
    for entry in parsed.entries:
        name = _clean(entry["title"] or entry["id"])
        while name in seen:  # Drive allows duplicate names; the disk does not
            name = f"{entry['id']}-{name}"
        seen.add(name)
        path = f"{_prefix}{name}"
        if _is_folder(entry["href"]):
            files += list_folder(entry["id"], session=session, config=config, base=base, _prefix=path + "/", _depth=_depth + 1)
        else:
            files.append(DriveFile(id=check_id(entry["id"]), path=path))
    return files
