"""A small website that behaves like real ones do, for `crawlmap demo`, tests and benchmarks.

It binds 127.0.0.1 unless `host` names another loopback address (127.0.0.0/8 is all local on
Linux), so one process can serve many hosts, each held to its own per-host limit by the crawler.

The demo pages (listed in /sitemap.xml): linked articles, slow pages, a page that answers 503
once and then recovers, a 404, a 500 that never recovers, a redirect chain, a PDF and a PNG,
a large page, and a page robots.txt disallows. Pages send ETag and Last-Modified and answer
conditional requests with 304, so a second crawl finds them unchanged.

Routes for tests and benchmarks (not in the sitemap):
  /status/<code>/<anything>       always that status
  /flaky/<key>?fail=N             503 for the first N requests of that key, then 200
  /delay/<ms>/<anything>          a page served after that many milliseconds
  /echo/<anything>                a plain page
"""

from __future__ import annotations

import hashlib
import html
import sys
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

LAST_MODIFIED = "Mon, 02 Nov 2026 09:00:00 GMT"
ARTICLES = (
    ("getting-started", "Getting started with crawlmap"),
    ("fan-out", "Why fan out a crawl"),
    ("retries", "Retries, backoff and jitter"),
    ("history", "Reading an execution history"),
    ("distributed-map", "When the inline Map is not enough"),
    ("costs", "What a crawl costs"),
    ("conditional-get", "Conditional GET and unchanged pages"),
    ("robots", "Being polite: robots.txt"),
)


def _png() -> bytes:
    """A valid 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = (1).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
    pixels = zlib.compress(b"\x00\x2a\x6f\xdb")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def page_html(title: str, body: str, links: list[tuple[str, str]] = ()) -> bytes:  # type: ignore[assignment]
    items = "".join(f'<li><a href="{href}">{html.escape(text)}</a></li>' for href, text in links)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title>"
        f'<meta name="description" content="{html.escape(title)} - the crawlmap demo site">'
        f"</head><body><h1>{html.escape(title)}</h1><p>{body}</p><ul>{items}</ul></body></html>"
    ).encode()


class _DemoServer(ThreadingHTTPServer):
    daemon_threads = True
    # listen() reads this in the constructor; the default backlog of 5 drops connections
    # when 40 Map iterations connect at once, and the clients retry them 1-7 s later.
    request_queue_size = 512

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A crawler that stops reading (a body over the cap) is normal here, not an error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class DemoSite:
    """The demo website. `slow_seconds` is how long the slow pages take; `host` is the address
    it binds and names in its URLs. `hits` counts requests by path and `max_in_flight` is the
    most requests it was answering at once."""

    port: int = 0
    slow_seconds: float = 1.0
    flaky_failures: int = 1
    hits: Counter[str] = field(default_factory=Counter)
    host: str = "127.0.0.1"
    max_in_flight: int = field(default=0, init=False)
    _in_flight: int = field(default=0, init=False, repr=False)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- lifecycle

    def start(self) -> DemoSite:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Without it every response on a kept-alive connection waits ~40 ms (Nagle +
            # delayed ACK), which would show up as crawl latency that is not the site's.
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                site._serve(self)

            def do_HEAD(self) -> None:
                site._serve(self)

            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet: the demo prints its own summary

        server = _DemoServer((self.host, self.port), Handler)
        self._server = server
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True, name="demo-site").start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> DemoSite:
        return self if self._server is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def demo_paths(self) -> list[str]:
        """The pages the sitemap lists, in order."""
        return [
            "/",
            *(f"/articles/{slug}" for slug, _ in ARTICLES),
            "/slow/report",
            "/slow/archive",
            "/flaky/news",
            "/missing",
            "/broken",
            "/old-home",
            "/files/crawlmap.pdf",
            "/images/logo.png",
            "/large",
            "/private/admin",
        ]

    # -- responses

    def _count(self, key: str) -> int:
        with self._lock:
            self.hits[key] += 1
            return self.hits[key]

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            self._respond(request)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _respond(self, request: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(request.path)
        path = parts.path
        query = parse_qs(parts.query)
        hit = self._count(path)
        status, headers, body = self._route(path, query, hit)
        if status == 200 and "ETag" in headers:
            match = request.headers.get("If-None-Match")
            if match is not None and headers["ETag"] in match:
                status, body = 304, b""
        request.send_response(status)
        for name, value in headers.items():
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(body)

    def _page(self, title: str, body: str, links: list[tuple[str, str]] = ()) -> Any:  # type: ignore[assignment]
        content = page_html(title, body, links)
        return 200, self._cacheable("text/html; charset=utf-8", content), content

    @staticmethod
    def _cacheable(content_type: str, content: bytes) -> dict[str, str]:
        etag = '"' + hashlib.sha256(content).hexdigest()[:16] + '"'
        return {"Content-Type": content_type, "ETag": etag, "Last-Modified": LAST_MODIFIED}

    def _route(self, path: str, query: dict[str, list[str]], hit: int) -> Any:  # noqa: C901 - one branch per demo path, read top to bottom
        text = {"Content-Type": "text/plain; charset=utf-8"}
        if path == "/robots.txt":
            return 200, text, b"User-agent: *\nDisallow: /private/\n"
        if path == "/sitemap.xml":
            urls = "".join(f"<url><loc>{self.url(p)}</loc></url>" for p in self.demo_paths())
            xml = (
                '<?xml version="1.0" encoding="UTF-8"?>'
                f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
            )
            return 200, {"Content-Type": "application/xml"}, xml.encode()
        if path == "/":
            links = [(f"/articles/{slug}", title) for slug, title in ARTICLES]
            return self._page("crawlmap demo", "A small site to crawl.", links)
        if path.startswith("/articles/"):
            slug = path.removeprefix("/articles/")
            titles = dict(ARTICLES)
            if slug not in titles:
                return 404, text, b"no such article"
            others = [(f"/articles/{s}", t) for s, t in ARTICLES if s != slug][:3]
            return self._page(titles[slug], f"An article about {titles[slug].lower()}.", others)
        if path.startswith("/slow/"):
            time.sleep(self.slow_seconds)
            return self._page(f"Slow page {path.rsplit('/', 1)[1]}", "Worth the wait.")
        if path.startswith("/flaky/"):
            failures = int(query.get("fail", [str(self.flaky_failures)])[0])
            if hit <= failures:
                return 503, text, b"busy, try again"
            return self._page(f"Flaky {path.rsplit('/', 1)[1]}", f"Answered on try {hit}.")
        if path == "/missing":
            return 404, text, b"not found"
        if path == "/broken":
            return 500, text, b"internal error"
        if path == "/old-home":
            return 301, {"Location": "/older-home"}, b""
        if path == "/older-home":
            return 302, {"Location": "/"}, b""
        if path == "/files/crawlmap.pdf":
            return 200, self._cacheable("application/pdf", PDF), PDF
        if path == "/images/logo.png":
            png = _png()
            return 200, self._cacheable("image/png", png), png
        if path == "/large":
            paragraph = "crawlmap fans a crawl out over Lambda functions. " * 20
            body = "".join(f"<p>{i}: {paragraph}</p>" for i in range(1500))
            return self._page("A large page", body)
        if path.startswith("/private/"):
            return self._page("Private", "robots.txt asks crawlers to stay out.")
        if path.startswith("/status/"):
            code = int(path.split("/")[2])
            return code, text, f"status {code}".encode()
        if path.startswith("/delay/"):
            time.sleep(int(path.split("/")[2]) / 1000)
            return self._page(f"Delayed {path}", "Served after a delay.")
        if path.startswith("/echo/"):
            return self._page(f"Echo {path.removeprefix('/echo/')}", "A plain page.")
        return 404, text, b"not found"
