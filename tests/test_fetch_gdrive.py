"""Google Drive against saved-style pages on a loopback server: confirmation, quota, denial, folders."""

from __future__ import annotations

import hashlib
import os

import pytest
from fetch_server import serve

from maskaway_cli.assets import cache, gdrive
from maskaway_cli.assets.fetch import FetchOptions, fetch_asset
from maskaway_cli.assets.http import HttpConfig
from maskaway_cli.assets.registry import asset_from_dict
from maskaway_cli.errors import DownloadError

DATA = os.urandom(50_000)
MD5 = hashlib.md5(DATA).hexdigest()
FILE_ID = "0B7EVK8r0v71pTESTFILEID01"
FAST = HttpConfig(connect_timeout=2, read_timeout=2, backoff_base=0.01, max_stalled=2, free_margin=0)

CONFIRM_PAGE = """<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head>
<body><div class="uc-main"><div id="uc-text"><p class="uc-warning-caption">Google Drive can't scan this file
for viruses.</p><p class="uc-warning-subcaption"><span class="uc-name-size"><a href="/open?id={id}">
img_align_celeba.zip</a> (1.3G)</span> is too large for Google to scan for viruses. Would you still like to
download this file?</p><form id="download-form" action="{base}/download" method="get">
<input type="submit" id="uc-download-link" class="goog-inline-block jfk-button jfk-button-action" value="Download anyway"/>
<input type="hidden" name="id" value="{id}"><input type="hidden" name="export" value="download">
<input type="hidden" name="confirm" value="t"><input type="hidden" name="uuid" value="5e1f-uuid-77"></form>
</div></div></body></html>"""

QUOTA_PAGE = """<html><head><title>Google Drive - Quota exceeded</title></head><body>
<div class="uc-main"><div id="uc-text"><p class="uc-error-caption">Sorry, you can't view or download this
file at this time.</p><p class="uc-error-subcaption">Too many users have viewed or downloaded this file
recently. Please try accessing the file again later.</p></div></div></body></html>"""

DENIED_PAGE = """<html><head><title>Google Drive</title></head><body><div><h1>You need access</h1>
<p>Request access, or switch to an account with access.</p></div></body></html>"""


def folder_page(entries):
    rows = []
    for drive_id, title, is_folder in entries:
        href = f"https://drive.google.com/drive/folders/{drive_id}" if is_folder else f"https://drive.google.com/file/d/{drive_id}/view?usp=drive_web"
        rows.append(f'<div class="flip-entry" id="entry-{drive_id}" tabindex="0" role="link"><div class="flip-entry-info">'
                    f'<a href="{href}" target="_blank"><div class="flip-entry-list-icon"></div>'
                    f'<div class="flip-entry-title">{title}</div></a></div></div>')
    return f'<html><head><title>folder</title></head><body><div class="flip-entries">{"".join(rows)}</div></body></html>'


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("MASKAWAY_HOME", str(tmp_path / "home"))
    for var in ("MASKAWAY_CACHE_DIR", "MASKAWAY_OFFLINE", "MASKAWAY_MIRROR", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path / "home"


def drive_file_asset(**extra):
    return asset_from_dict("drive-test", {"source": "gdrive-file", "gdrive_id": FILE_ID, "filename": "img.zip", "md5": MD5, **extra})


def test_confirmation_page_is_followed_with_confirm_and_uuid(home, monkeypatch):
    with serve() as srv:
        srv.routes["/uc"] = lambda h: h.send_bytes(CONFIRM_PAGE.format(id=FILE_ID, base=srv.url).encode(), ctype="text/html; charset=utf-8")
        srv.routes["/download"] = lambda h: h.send_file(DATA)
        monkeypatch.setenv("MASKAWAY_GDRIVE_URL", srv.url)  # the injectable base, via the environment
        result = fetch_asset(drive_file_asset(), opts=FetchOptions(http=FAST))
        final = srv.requests[-1][0]
    assert result.files[0].path.read_bytes() == DATA
    assert f"id={FILE_ID}" in final and "confirm=t" in final and "uuid=5e1f-uuid-77" in final


def test_quota_page_is_a_clear_error_not_a_zip(home):
    with serve() as srv:
        srv.routes["/uc"] = lambda h: h.send_bytes(QUOTA_PAGE.encode(), ctype="text/html")
        with pytest.raises(DownloadError, match="quota exceeded"):
            fetch_asset(drive_file_asset(), opts=FetchOptions(http=FAST, gdrive_base=srv.url))
    assert not (home / "cache" / "drive-test" / "img.zip").exists()
    assert cache.read_record("drive-test") is None


def test_quota_page_after_confirmation_is_also_caught(home):
    with serve() as srv:
        srv.routes["/uc"] = lambda h: h.send_bytes(CONFIRM_PAGE.format(id=FILE_ID, base=srv.url).encode(), ctype="text/html")
        srv.routes["/download"] = lambda h: h.send_bytes(QUOTA_PAGE.encode(), ctype="text/html")
        with pytest.raises(DownloadError, match="quota exceeded"):
            fetch_asset(drive_file_asset(), opts=FetchOptions(http=FAST, gdrive_base=srv.url))
    assert not any((home / "cache").rglob("*.zip*"))


def test_access_denied_page_is_a_clear_error(home):
    with serve() as srv:
        srv.routes["/uc"] = lambda h: h.send_bytes(DENIED_PAGE.encode(), status=403, ctype="text/html")
        with pytest.raises(DownloadError, match="denied access .*not shared publicly"):
            fetch_asset(drive_file_asset(), opts=FetchOptions(http=FAST, gdrive_base=srv.url))


def test_direct_file_without_confirmation(home):
    with serve() as srv:
        srv.routes["/uc"] = lambda h: h.send_file(DATA)
        result = fetch_asset(drive_file_asset(), opts=FetchOptions(http=FAST, gdrive_base=srv.url))
    assert result.files[0].path.read_bytes() == DATA


def test_md5_mismatch_from_drive_is_refused(home):
    with serve() as srv:
        srv.routes["/uc"] = lambda h: h.send_file(DATA[::-1])
        with pytest.raises(DownloadError, match="md5"):
            fetch_asset(drive_file_asset(), opts=FetchOptions(http=FAST, gdrive_base=srv.url))
    assert not any((home / "cache").rglob("*.zip*"))


def test_folder_listing_with_more_than_50_files(home):
    top = [(f"1file{i:04d}xxxxxxxxxx", f"img_{i:03d}.png", False) for i in range(60)]
    top.append(("1subfolderxxxxxxxxxx", "models", True))
    sub = [("1weightsAxxxxxxxxxxx", "gen.pth", False), ("1weightsBxxxxxxxxxxx", "seg.pth", False)]
    bodies = {fid: f"content of {fid}".encode() for fid, _, f in top + sub if not f}

    def listing(h):
        fid = h.path.split("id=")[1]
        h.send_bytes(folder_page(top if fid == "1ju73lV7JwQr7km5mkPpsYthYtmzNIq3a" else sub).encode(), ctype="text/html")

    notes = []
    with serve() as srv:
        srv.routes["/embeddedfolderview"] = listing
        srv.routes["/uc"] = lambda h: h.send_file(bodies[h.path.split("id=")[1]])
        asset = asset_from_dict("folder-test", {"source": "gdrive-folder", "gdrive_id": "1ju73lV7JwQr7km5mkPpsYthYtmzNIq3a"})
        result = fetch_asset(asset, opts=FetchOptions(http=FAST, gdrive_base=srv.url),
                             reporter=lambda e, **f: notes.append(f["text"]) if e == "note" else None)
    assert len(result.files) == 62
    target = home / "cache" / "folder-test"
    assert (target / "img_059.png").read_bytes() == bodies["1file0059xxxxxxxxxx"]
    assert (target / "models" / "seg.pth").read_bytes() == bodies["1weightsBxxxxxxxxxxx"]
    # No published checksums: each file's sha256 is shown and recorded.
    sha = hashlib.sha256(bodies["1weightsAxxxxxxxxxxx"]).hexdigest()
    assert any("models/gen.pth" in n and sha in n for n in notes)
    record = cache.read_record("folder-test")
    assert {f["path"]: f["sha256"] for f in record["files"]}["models/gen.pth"] == sha


def test_confirm_url_parser_and_id_check():
    url = gdrive.confirm_url(CONFIRM_PAGE.format(id=FILE_ID, base="https://drive.usercontent.google.com"), "https://drive.google.com/uc?id=x")
    assert url.startswith("https://drive.usercontent.google.com/download?") and "uuid=5e1f-uuid-77" in url
    assert gdrive.confirm_url(QUOTA_PAGE, "https://drive.google.com/uc") is None
    with pytest.raises(DownloadError, match="not a Google Drive id"):
        gdrive.file_url("../../etc")
