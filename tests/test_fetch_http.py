"""The download engine against a loopback server: resume, Range abuse, retries, timeouts, checksums."""

from __future__ import annotations

import hashlib
import os
import time

import pytest
from fetch_server import sequence, serve, silent_server

from maskaway_cli.assets.http import Expected, HttpConfig, download, retry_after
from maskaway_cli.errors import ChecksumError, DownloadError

DATA = os.urandom(300_000)
SHA = hashlib.sha256(DATA).hexdigest()
FAST = HttpConfig(connect_timeout=2, read_timeout=2, backoff_base=0.01, max_stalled=3, chunk_size=8192, free_margin=0)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".part", ".json")))


def test_dropped_at_60_percent_resumes_to_the_right_bytes(tmp_path):
    cut = int(len(DATA) * 0.6)
    with serve() as srv:
        srv.routes["/f.bin"] = sequence(lambda h: h.send_file(DATA, cut_at=cut), lambda h: h.send_file(DATA))
        got = download(f"{srv.url}/f.bin", tmp_path / "f.bin", expected=Expected(sha256=SHA), config=FAST)
        hits = srv.hits("/f.bin")
    assert (tmp_path / "f.bin").read_bytes() == DATA
    assert got.sha256 == SHA and got.size == len(DATA)
    assert "Range" not in hits[0]
    # The resume starts where the kept bytes end (a chunk torn by the drop is re-fetched).
    start = int(hits[1]["Range"].removeprefix("bytes=").rstrip("-"))
    assert cut - FAST.chunk_size < start <= cut and hits[1]["If-Range"] == '"v1"'
    assert leftovers(tmp_path) == []


def test_server_ignoring_range_restarts_from_zero(tmp_path):
    with serve() as srv:
        srv.routes["/f.bin"] = sequence(
            lambda h: h.send_file(DATA, cut_at=100_000), lambda h: h.send_file(DATA, honour_range=False)
        )
        download(f"{srv.url}/f.bin", tmp_path / "f.bin", expected=Expected(sha256=SHA), config=FAST)
        assert "Range" in srv.hits("/f.bin")[1]
    assert (tmp_path / "f.bin").read_bytes() == DATA  # not 100k + a whole body appended


def test_wrong_content_range_is_an_error_and_leaves_nothing(tmp_path):
    with serve() as srv:
        srv.routes["/f.bin"] = sequence(
            lambda h: h.send_file(DATA, cut_at=100_000), lambda h: h.send_file(DATA, bad_range_start=0)
        )
        with pytest.raises(DownloadError, match="wrong Content-Range"):
            download(f"{srv.url}/f.bin", tmp_path / "f.bin", expected=Expected(sha256=SHA), config=FAST)
    assert not (tmp_path / "f.bin").exists()
    assert leftovers(tmp_path) == []


def test_one_flipped_byte_installs_nothing_and_leaves_no_temp(tmp_path):
    bad = bytearray(DATA)
    bad[12345] ^= 0xFF
    with serve() as srv:
        srv.routes["/f.bin"] = lambda h: h.send_file(bytes(bad))
        with pytest.raises(ChecksumError, match="sha256"):
            download(f"{srv.url}/f.bin", tmp_path / "f.bin", expected=Expected(sha256=SHA), config=FAST)
    assert list(tmp_path.iterdir()) == []


def test_wrong_size_is_a_checksum_error(tmp_path):
    with serve() as srv:
        srv.routes["/f.bin"] = lambda h: h.send_file(DATA)
        with pytest.raises(ChecksumError, match="size"):
            download(f"{srv.url}/f.bin", tmp_path / "f.bin", expected=Expected(size=len(DATA) + 1), config=FAST)
    assert list(tmp_path.iterdir()) == []


def test_503_then_200(tmp_path):
    with serve() as srv:
        srv.routes["/f.bin"] = sequence(lambda h: h.send_bytes(b"busy", status=503, ctype="text/plain"),
                                        lambda h: h.send_file(DATA))
        download(f"{srv.url}/f.bin", tmp_path / "f.bin", expected=Expected(sha256=SHA), config=FAST)
        assert len(srv.hits("/f.bin")) == 2
    assert (tmp_path / "f.bin").read_bytes() == DATA


def test_429_honours_retry_after(tmp_path):
    with serve() as srv:
        srv.routes["/f.bin"] = sequence(
            lambda h: h.send_bytes(b"slow down", status=429, ctype="text/plain", headers={"Retry-After": "1"}),
            lambda h: h.send_file(DATA),
        )
        start = time.monotonic()
        download(f"{srv.url}/f.bin", tmp_path / "f.bin", expected=Expected(sha256=SHA), config=FAST)
        elapsed = time.monotonic() - start
    assert 1.0 <= elapsed < 5.0  # waited what the server asked, not the 0.01 s backoff


def test_retry_after_parses_seconds_and_dates():
    assert retry_after("7", 600) == 7.0
    assert retry_after("100000", 600) == 600.0
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 600) == 0.0
    assert retry_after("soon", 600) is None


def test_server_that_never_answers_times_out_within_the_limit(tmp_path):
    cfg = HttpConfig(connect_timeout=1, read_timeout=0.5, backoff_base=0.01, max_stalled=2)
    with silent_server() as url:
        start = time.monotonic()
        with pytest.raises(DownloadError, match="giving up after 2 attempts: timed out"):
            download(f"{url}/f.bin", tmp_path / "f.bin", config=cfg)
    assert time.monotonic() - start < 5
    assert not (tmp_path / "f.bin").exists()


def test_retries_that_make_no_progress_are_capped(tmp_path):
    with serve() as srv:
        srv.routes["/f.bin"] = lambda h: h.send_bytes(b"down", status=500, ctype="text/plain")
        with pytest.raises(DownloadError, match="giving up after 3 attempts: HTTP 500"):
            download(f"{srv.url}/f.bin", tmp_path / "f.bin", config=FAST)
        assert len(srv.hits("/f.bin")) == 3


def test_html_instead_of_binary_is_rejected_with_the_page_text(tmp_path):
    page = b"<html><head><title>Login required</title></head><body><p>Please sign in first.</p></body></html>"
    with serve() as srv:
        srv.routes["/f.bin"] = lambda h: h.send_bytes(page, ctype="text/html; charset=utf-8")
        with pytest.raises(DownloadError, match="Login required Please sign in first"):
            download(f"{srv.url}/f.bin", tmp_path / "f.bin", config=FAST)
    assert list(tmp_path.iterdir()) == []


def test_http_404_is_a_clear_error_without_retries(tmp_path):
    with serve() as srv:
        with pytest.raises(DownloadError, match="HTTP 404"):
            download(f"{srv.url}/missing.bin", tmp_path / "f.bin", config=FAST)
        assert len(srv.hits("/missing.bin")) == 1


def test_partial_from_an_interrupted_run_is_resumed(tmp_path):
    cut = 120_000
    with serve() as srv:
        srv.routes["/f.bin"] = lambda h: h.send_file(DATA, cut_at=cut)
        one_try = HttpConfig(read_timeout=2, max_stalled=1, max_attempts=1, chunk_size=8192, free_margin=0)
        with pytest.raises(DownloadError):
            download(f"{srv.url}/f.bin", tmp_path / "f.bin", expected=Expected(sha256=SHA), config=one_try)
        assert len(leftovers(tmp_path)) == 2  # the partial file and its validator survive
        srv.routes["/f.bin"] = lambda h: h.send_file(DATA)
        download(f"{srv.url}/f.bin", tmp_path / "f.bin", expected=Expected(sha256=SHA), config=FAST)
        assert srv.hits("/f.bin")[-1]["Range"].startswith("bytes=")
    assert (tmp_path / "f.bin").read_bytes() == DATA
    assert leftovers(tmp_path) == []


def test_not_enough_disk_is_refused_before_downloading(tmp_path):
    with serve() as srv:
        srv.routes["/f.bin"] = lambda h: h.send_file(DATA)
        with pytest.raises(DownloadError, match="free disk space"):
            download(f"{srv.url}/f.bin", tmp_path / "f.bin", expected=Expected(size=1 << 60), config=FAST)
        assert srv.hits("/f.bin") == []
