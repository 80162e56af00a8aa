"""A real HTTP server on 127.0.0.1 with scenario endpoints, for the crawler's tests.

Each test registers the routes it needs (path -> function writing the response) on a fresh
server bound to an ephemeral port; the server records every request it saw (path + headers),
so tests can assert what reached it (credentials, validators, User-Agent, robots.txt hits).
Also here: a recording resolver and network backends that record every connect attempt,
so SSRF tests can prove nothing tried to leave loopback.
"""

from __future__ import annotations

import contextlib
import gzip
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import brotli
import httpcore

from lambdas.common.safe_http import AsyncioBackend

Route = Callable[["ScenarioHandler"], None]


@dataclass(frozen=True)
class SeenRequest:
    path: str
    headers: dict[str, str]  # lowercased names
    at: float  # time.monotonic() when it arrived


class ScenarioHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ScenarioServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        path = self.path
        self.server.record(
            SeenRequest(path, {k.lower(): v for k, v in self.headers.items()}, time.monotonic())
        )
        route = self.server.routes.get(path) or self.server.routes.get(path.split("?", 1)[0])
        if route is None:
            self.send_body(404, b"not found", "text/plain")
            return
        try:
            route(self)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def send_body(
        self,
        status: int,
        body: bytes,
        content_type: str | None = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if not headers or "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class ScenarioServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: str = "127.0.0.1") -> None:
        super().__init__((address, 0), ScenarioHandler)
        self.routes: dict[str, Route] = {}
        self.seen: list[SeenRequest] = []
        self._lock = threading.Lock()

    def record(self, request: SeenRequest) -> None:
        with self._lock:
            self.seen.append(request)

    def hits(self, path: str) -> list[SeenRequest]:
        with self._lock:
            return [r for r in self.seen if r.path == path]

    @property
    def origin(self) -> str:
        return f"http://{self.server_address[0]}:{self.server_address[1]}"

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def url(self, path: str) -> str:
        return self.origin + path

    def route(self, path: str) -> Callable[[Route], Route]:
        def register(fn: Route) -> Route:
            self.routes[path] = fn
            return fn

        return register

    def html(
        self,
        path: str,
        body: str | bytes,
        *,
        status: int = 200,
        content_type: str = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = lambda h: h.send_body(status, data, content_type, headers)

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.routes[path] = lambda h: h.send_body(status, b"", None, {"Location": location})


@dataclass
class InFlight:
    """Requests in flight to one server (one host), the most at once, and their start times;
    `everyone`, when given, counts the same requests across several servers too."""

    hold_s: float = 0.05
    current: int = 0
    peak: int = 0
    starts: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    everyone: InFlight | None = None

    def route(self, handler: ScenarioHandler) -> None:
        self._count(+1)
        time.sleep(self.hold_s)
        # Out of flight before the body goes: the client cannot have its response (and start
        # its next request) while this one still counts.
        self._count(-1)
        handler.send_body(200, b"<html><title>t</title><body>ok</body></html>")

    def _count(self, step: int) -> None:
        for counter in (self, self.everyone):
            if counter is None:
                continue
            with counter.lock:
                counter.current += step
                counter.peak = max(counter.peak, counter.current)
                if step > 0 and counter is self:
                    counter.starts.append(time.monotonic())


def start_server(address: str = "127.0.0.1") -> ScenarioServer:
    server = ScenarioServer(address)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    return server


@contextlib.contextmanager
def running_server(address: str = "127.0.0.1") -> Iterator[ScenarioServer]:
    """A ScenarioServer on <address>:<ephemeral> (any 127.0.0.x: one host each), shut down on
    exit. Test modules wrap it in their own fixture (importing fixtures across modules confuses
    linters)."""
    server = start_server(address)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------- bodies for bomb scenarios


def gzip_bomb(decompressed_size: int) -> bytes:
    """gzip of `decompressed_size` zero bytes, compressed in one pass (about 1000:1)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(1024 * 1024)
    parts = [compressor.compress(chunk) for _ in range(decompressed_size // len(chunk))]
    parts.append(compressor.flush())
    return b"".join(parts)


def brotli_bomb(decompressed_size: int) -> bytes:
    compressor = brotli.Compressor(quality=5)
    chunk = bytes(1024 * 1024)
    parts = [compressor.process(chunk) for _ in range(decompressed_size // len(chunk))]
    parts.append(compressor.finish())
    return b"".join(parts)


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data)


# ---------------------------------------------------------------- recording resolver/backends


@dataclass
class RecordingResolver:
    """DNS answers chosen by the test: name -> addresses; records every lookup."""

    answers: dict[str, list[str]]
    lookups: list[str] = field(default_factory=list)

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        if host not in self.answers:
            import socket

            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(self.answers[host])


def _only_loopback(host: str) -> None:
    # A hard stop in the test itself: nothing may ever leave 127.0.0.0/8.
    if not host.startswith("127."):
        raise AssertionError(f"test tried to connect to {host}")


class RecordingBackend(httpcore.NetworkBackend):
    """Sync backend that records connect attempts and only ever connects to 127.0.0.0/8."""

    def __init__(self) -> None:
        self.connects: list[tuple[str, int]] = []
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        self.connects.append((host, port))
        _only_loopback(host)
        return self._inner.connect_tcp(host, port, timeout, local_address, socket_options)


class AsyncRecordingBackend(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        self.connects: list[tuple[str, int]] = []
        self._inner = AsyncioBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connects.append((host, port))
        _only_loopback(host)
        return await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
