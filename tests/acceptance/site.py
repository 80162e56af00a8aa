"""The acceptance suite's own website on 127.0.0.1 (deliberately not crawlmap's demo site).

Every route behaves the same way every time unless it says otherwise, and the site counts
the requests each path received, so a test can tell what the crawler really did:

  /page/<name>              an HTML page titled "Page <name>" with ETag and Last-Modified;
                            answers If-None-Match / If-Modified-Since with 304
  /plain/<name>             an HTML page with no validators; its text comes from `versions`
                            (set_version changes it, so a second crawl sees "changed")
  /status/<code>/<name>     always that status (404, 500, ...)
  /flaky/<name>             503 on the first request of that name, then 200
  /hop/<n>/<name>           a 302 chain: /hop/3/x -> /hop/2/x -> /hop/1/x -> /page/x
  /private/<name>           disallowed by /robots.txt
  /huge-length/<name>       claims a 64 MiB Content-Length (and sends only a little)
  /huge-stream/<name>       streams 32 MiB of HTML with no Content-Length
  /bomb/<name>              a gzip bomb: 40 KiB on the wire, 256 MiB inflated
  /robots.txt               Disallow: /private/
  /sitemap.xml              lists SITEMAP_PATHS (/sitemap.xml.gz: the same, gzipped;
                            /sitemap-index.xml: an index naming /sitemap.xml.gz)
  /__hits                   the request counts so far, as JSON

Run it by hand: `python -m tests.acceptance.site` prints its base URL and serves until ^C.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import html
import io
import json
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LAST_MODIFIED = "Tue, 03 Nov 2026 10:00:00 GMT"
ROBOTS = b"User-agent: *\nDisallow: /private/\n"
MIB = 1024 * 1024
SITEMAP_PATHS = (
    "/page/sitemap-1",
    "/page/sitemap-2",
    "/status/404/sitemap-3",
    "/private/sitemap-4",
)


def _bomb(inflated_mib: int) -> bytes:
    """gzip of `inflated_mib` MiB of zeros, built once in ~1 MiB steps."""
    buffer = io.BytesIO()
    chunk = b"\0" * MIB
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9) as out:
        for _ in range(inflated_mib):
            out.write(chunk)
    return buffer.getvalue()


def html_page(title: str, text: str) -> bytes:
    return (
        "<!doctype html><html><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>"
        '<a href="/page/a">a</a> <a href="/page/b">b</a></body></html>'
    ).encode()


class _QuietServer(ThreadingHTTPServer):
    """The crawler hangs up on bombs and oversized bodies on purpose: not worth a traceback."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Site:
    """A threaded HTTP server on 127.0.0.1 with an ephemeral port."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.versions: dict[str, str] = {}
        self._lock = threading.Lock()
        self._bomb_body: bytes | None = None
        self._server: ThreadingHTTPServer | None = None

    # -------------------------------------------------------------------- lifecycle

    def start(self) -> Site:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                site._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Site:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def set_version(self, name: str, text: str) -> None:
        with self._lock:
            self.versions[name] = text

    # -------------------------------------------------------------------- routes

    def _count(self, path: str) -> int:
        with self._lock:
            self.hits[path] += 1
            return self.hits[path]

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        path = request.path.split("?", 1)[0]
        hit = self._count(path)
        parts = path.strip("/").split("/")
        kind = parts[0]
        if path == "/__hits":  # for poking at a hand-run site
            with self._lock:
                body = json.dumps(dict(self.hits)).encode()
            self._send(request, 200, body, "application/json")
        elif kind in ("sitemap.xml", "sitemap.xml.gz", "sitemap-index.xml"):
            self._sitemap(request, kind)
        elif path == "/robots.txt":
            self._send(request, 200, ROBOTS, "text/plain")
        elif kind == "page" and len(parts) == 2:
            self._validated_page(request, parts[1])
        elif kind == "plain" and len(parts) == 2:
            text = self.versions.get(parts[1], "the first version")
            self._send(request, 200, html_page(f"Plain {parts[1]}", text))
        elif kind == "status" and len(parts) == 3 and parts[1].isdigit():
            code = int(parts[1])
            self._send(request, code, html_page(f"Status {code}", "an error page"))
        elif kind == "flaky" and len(parts) == 2:
            if hit == 1:
                self._send(request, 503, b"try again", "text/plain")
            else:
                self._send(request, 200, html_page(f"Flaky {parts[1]}", "recovered"))
        elif kind == "hop" and len(parts) == 3 and parts[1].isdigit():
            hops = int(parts[1])
            target = f"/hop/{hops - 1}/{parts[2]}" if hops > 1 else f"/page/{parts[2]}"
            request.send_response(302)
            request.send_header("Location", target)
            request.send_header("Content-Length", "0")
            request.end_headers()
        elif kind == "private":
            self._send(request, 200, html_page("Private", "robots.txt says no"))
        elif kind == "huge-length":
            request.send_response(200)
            request.send_header("Content-Type", "text/html")
            request.send_header("Content-Length", str(64 * MIB))
            request.end_headers()
            self._write(request, b"<html>" + b" " * 1024)
        elif kind == "huge-stream":
            self._stream(request, 32)
        elif kind == "bomb":
            with self._lock:
                if self._bomb_body is None:
                    self._bomb_body = _bomb(256)
            body = self._bomb_body
            request.send_response(200)
            request.send_header("Content-Type", "text/html")
            request.send_header("Content-Encoding", "gzip")
            request.send_header("Content-Length", str(len(body)))
            request.end_headers()
            self._write(request, body)
        else:
            self._send(request, 404, html_page("Not found", path))

    def _sitemap(self, request: BaseHTTPRequestHandler, kind: str) -> None:
        if kind == "sitemap-index.xml":
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>'
                '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                f"<sitemap><loc>{self.url('/sitemap.xml.gz')}</loc></sitemap></sitemapindex>"
            ).encode()
            self._send(request, 200, body, "application/xml")
            return
        locs = "".join(f"<url><loc>{self.url(path)}</loc></url>" for path in SITEMAP_PATHS)
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</urlset>'
        ).encode()
        if kind.endswith(".gz"):
            self._send(request, 200, gzip.compress(body), "application/gzip")
        else:
            self._send(request, 200, body, "application/xml")

    def _validated_page(self, request: BaseHTTPRequestHandler, name: str) -> None:
        body = html_page(f"Page {name}", f"the text of page {name}")
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if request.headers.get("If-None-Match") == etag or (
            request.headers.get("If-Modified-Since") == LAST_MODIFIED
        ):
            request.send_response(304)
            request.send_header("ETag", etag)
            request.send_header("Content-Length", "0")
            request.end_headers()
            return
        self._send(request, 200, body, extra={"ETag": etag, "Last-Modified": LAST_MODIFIED})

    @staticmethod
    def _write(request: BaseHTTPRequestHandler, data: bytes) -> None:
        # The crawler hangs up early on oversized bodies, as it should.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            request.wfile.write(data)

    def _send(
        self,
        request: BaseHTTPRequestHandler,
        code: int,
        body: bytes,
        content_type: str = "text/html; charset=utf-8",
        extra: dict[str, str] | None = None,
    ) -> None:
        request.send_response(code)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            request.send_header(key, value)
        request.end_headers()
        self._write(request, body)

    def _stream(self, request: BaseHTTPRequestHandler, mib: int) -> None:
        request.send_response(200)
        request.send_header("Content-Type", "text/html")
        request.send_header("Connection", "close")
        request.end_headers()
        request.close_connection = True
        chunk = b"<p>" + b"x" * (64 * 1024 - 3)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for _ in range(mib * 16):
                request.wfile.write(chunk)


@contextmanager
def running_site() -> Iterator[Site]:
    with Site() as site:
        yield site


if __name__ == "__main__":
    import time

    with running_site() as served:
        print(served.base, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
