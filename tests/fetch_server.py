"""A loopback HTTP server (127.0.0.1 only) for the fetch tests: routes are plain Python functions.

A route gets the handler and returns nothing; it writes the response itself, so tests can drop a
connection half-way, ignore Range, or lie in Content-Range.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

Route = Callable[["Handler"], None]


class Handler(BaseHTTPRequestHandler):
    server: "LoopbackServer"
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        self.server.requests.append((self.path, dict(self.headers)))
        route = self.server.routes.get(path)
        if route is None:
            self.send_bytes(b"not found", status=404, ctype="text/plain")
            return
        route(self)

    @property
    def range_start(self) -> int | None:
        m = re.match(r"bytes=(\d+)-$", self.headers.get("Range", ""))
        return int(m.group(1)) if m else None

    def send_bytes(self, body: bytes, *, status: int = 200, ctype: str = "application/octet-stream",
                   headers: dict[str, str] | None = None, cut_at: int | None = None) -> None:
        """Send ``body``; with ``cut_at`` announce it whole but close the connection after that many bytes."""
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body if cut_at is None else body[:cut_at])
        self.wfile.flush()
        if cut_at is not None:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

    def send_file(self, data: bytes, *, etag: str = '"v1"', honour_range: bool = True,
                  cut_at: int | None = None, bad_range_start: int | None = None) -> None:
        """Serve ``data`` like a static file server, resuming with 206 when asked."""
        start = self.range_start if honour_range else None
        if_range = self.headers.get("If-Range")
        if start is not None and (if_range is None or if_range == etag):
            shown = start if bad_range_start is None else bad_range_start
            part = data[start:]
            headers = {"ETag": etag, "Content-Range": f"bytes {shown}-{len(data) - 1}/{len(data)}", "Accept-Ranges": "bytes"}
            self.send_bytes(part, status=206, headers=headers, cut_at=cut_at)
        else:
            self.send_bytes(data, headers={"ETag": etag, "Accept-Ranges": "bytes"}, cut_at=cut_at)


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def hits(self, path: str) -> list[dict[str, str]]:
        return [h for p, h in self.requests if urlsplit(p).path == path]


@contextmanager
def serve() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def silent_server() -> Iterator[str]:
    """A socket that accepts connections (the kernel does) but never answers: for read timeouts."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def sequence(*routes: Route) -> Route:
    """A route that behaves like ``routes[0]`` on the first request, ``routes[1]`` on the next, ...;
    the last one repeats."""
    calls = iter(range(1 << 30))

    def route(h: Handler) -> None:
        routes[min(next(calls), len(routes) - 1)](h)

    return route
