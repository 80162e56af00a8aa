"""GET with the guard, redirects followed here, a body cap and deadlines: fetch and fetch_async.

Redirects are followed here (not by httpx) so each hop's scheme is checked and credentials
are dropped across origins. The sync and async twins walk the hops through one _Hops object
(the hop checks, the redirect count, the body collector and the result) and differ only in
how they wait: a deadline checked between body pieces (sync) or one asyncio timeout (async).
"""

from __future__ import annotations

import asyncio
import math
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx

from lambdas.common.safe_http.decoding import _BodyCollector
from lambdas.common.safe_http.errors import (
    BadResponseError,
    FetchError,
    HopRefusedError,
    UnexpectedFetchError,
)
from lambdas.common.settings import Settings

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CREDENTIAL_HEADERS = ("authorization", "cookie", "proxy-authorization")

HopCheck = Callable[[str], Awaitable[str | None]]
Reserve = Callable[[int], Awaitable[None]]
Release = Callable[[int], None]


@dataclass(frozen=True)
class FetchLimits:
    """Per-fetch limits, and optionally a memory budget the async fetch buffers within.

    `reserve(n)` is awaited before each decoded piece of n bytes is buffered (the caller's
    budget may make it wait); `release(total)` gives back everything a response reserved,
    once: on a failed fetch before it raises, else when the caller calls
    SafeResponse.release() or drops the response (whichever comes first). The sync fetch()
    does not use them (it is for ListPages' sitemaps, one at a time).
    """

    connect_timeout: float
    read_timeout: float
    total_timeout: float  # the whole fetch: every hop and every body byte
    max_redirects: int
    max_bytes: int
    reserve: Reserve | None = field(default=None, compare=False, repr=False)
    release: Release | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if (self.reserve is None) != (self.release is None):
            raise ValueError("FetchLimits: reserve and release go together")

    @classmethod
    def from_settings(cls, settings: Settings, *, max_bytes: int | None = None) -> FetchLimits:
        timeout = settings.request_timeout
        return cls(
            connect_timeout=min(timeout, 5.0),
            read_timeout=timeout,
            total_timeout=timeout,
            max_redirects=settings.max_redirects,
            max_bytes=settings.max_body_bytes if max_bytes is None else max_bytes,
        )


class Reservation:
    """The bytes one fetch has reserved through FetchLimits.reserve; released exactly once."""

    def __init__(self, reserve: Reserve, release: Release) -> None:
        self._reserve = reserve
        self._release = release
        self.reserved = 0
        self._released = False

    async def take(self, size: int) -> None:
        await self._reserve(size)
        self.reserved += size

    def release(self) -> None:
        if not self._released:
            self._released = True
            if self.reserved:
                self._release(self.reserved)


@dataclass(frozen=True)
class SafeResponse:
    url: str  # the final URL, after redirects
    status: int
    headers: httpx.Headers
    body: bytes  # decompressed, at most FetchLimits.max_bytes
    redirects: int
    elapsed_ms: int
    reservation: Reservation | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.reservation is not None:  # dropping the response gives its bytes back
            weakref.finalize(self, self.reservation.release)

    @property
    def reserved_bytes(self) -> int:
        return 0 if self.reservation is None else self.reservation.reserved

    def release(self) -> None:
        """Give back the memory this response reserved (FetchLimits.reserve); idempotent."""
        if self.reservation is not None:
            self.reservation.release()

    @property
    def content_type(self) -> str | None:
        """The media type, lowercased, without parameters; None when the header is absent."""
        value = self.headers.get("content-type")
        if not value:
            return None
        return value.split(";", 1)[0].strip().lower() or None


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, (parts.hostname or "").lower(), port


def check_scheme(url: str) -> None:
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError as exc:
        raise BadResponseError(f"not a valid URL ({exc})") from None
    if scheme not in ("http", "https"):
        raise FetchError(f"refused: only http and https are fetched, not {scheme or 'no scheme'!r}")


def redirect_target(response: httpx.Response, current_url: str) -> str | None:
    """The absolute URL a redirect response points to, or None if it is not a redirect."""
    if response.status_code not in REDIRECT_STATUSES:
        return None
    location = response.headers.get("location")
    if not location or not location.strip():
        return None
    target = urljoin(current_url, location.strip())
    return target.split("#", 1)[0]


def headers_for_hop(headers: dict[str, str], previous_url: str, next_url: str) -> dict[str, str]:
    """Drop credentials when a redirect leaves the origin they were meant for."""
    if _origin(previous_url) == _origin(next_url):
        return headers
    return {k: v for k, v in headers.items() if k.lower() not in CREDENTIAL_HEADERS}


def is_transient_status(status: int) -> bool:
    """Whether an HTTP status may go away if asked again later (408, 429, 5xx)."""
    return status in (408, 429) or status >= 500


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        seconds = float(text)
        return seconds if math.isfinite(seconds) else None
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def _timeout(limits: FetchLimits, remaining: float) -> httpx.Timeout:
    return httpx.Timeout(
        connect=max(0.001, min(limits.connect_timeout, remaining)),
        read=max(0.001, min(limits.read_timeout, remaining)),
        write=max(0.001, min(limits.read_timeout, remaining)),
        pool=max(0.001, remaining),
    )


# h11/httpcore messages for a peer that went away (worth a retry); any other protocol error
# is a malformed response (illegal header bytes, a header block over 100 KB): permanent.
_DISCONNECTED = ("disconnected", "closed", "incomplete")
MAX_REASON_DETAIL = 120


def _detail(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= MAX_REASON_DETAIL else text[: MAX_REASON_DETAIL - 3] + "..."


def _translate(exc: Exception) -> FetchError:
    """Whatever a fetch raised -> a FetchError with a short reason and the transient flag.

    httpx's exceptions map to their kind; anything else a hostile response can provoke
    (ValueError, RecursionError, LookupError, ...) is contained as UnexpectedFetchError.
    """
    if isinstance(exc, FetchError):
        return exc
    if isinstance(exc, httpx.ConnectTimeout):
        return FetchError("timeout (connect)", transient=True)
    if isinstance(exc, httpx.PoolTimeout):
        return FetchError("timeout (waiting for a connection)", transient=True)
    if isinstance(exc, httpx.TimeoutException):
        return FetchError("timeout (read)", transient=True)
    if isinstance(exc, httpx.ConnectError):
        return FetchError(f"connection failed ({exc})", transient=True)
    if isinstance(exc, httpx.RemoteProtocolError) and "location header" in str(exc):
        return BadResponseError(f"redirect to an invalid URL ({_detail(exc)})")  # httpx's check
    if isinstance(exc, httpx.RemoteProtocolError) and not any(
        word in str(exc).lower() for word in _DISCONNECTED
    ):
        return BadResponseError(f"malformed response ({_detail(exc)})")
    if isinstance(exc, (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)):
        return FetchError(f"connection broken ({_detail(exc)})", transient=True)
    if isinstance(exc, (httpx.HTTPError, httpx.InvalidURL)):
        return FetchError(f"request failed ({exc})")
    if isinstance(exc, MemoryError):
        return UnexpectedFetchError("out of memory while fetching", transient=True)
    return UnexpectedFetchError(f"unexpected {type(exc).__name__} ({_detail(exc)})")


class _Hops:
    """One fetch's walk through its redirects, shared by fetch() and fetch_async().

    Holds the current URL and headers, checks each hop (scheme, loop, count), drops
    credentials across origins, and builds the collector and the result.
    """

    def __init__(self, url: str, limits: FetchLimits, headers: dict[str, str] | None) -> None:
        check_scheme(url)
        self.limits = limits
        self.current = url
        self.previous = url
        self.headers = dict(headers or {})
        self.visited = {url}
        self.redirects = 0

    def request(self, client: httpx.Client | httpx.AsyncClient, remaining: float) -> httpx.Request:
        return client.build_request(
            "GET", self.current, headers=self.headers, timeout=_timeout(self.limits, remaining)
        )

    def follow(self, response: httpx.Response) -> bool:
        """Move to the redirect target, if `response` is a redirect; False for a final answer."""
        try:
            target = redirect_target(response, self.current)
            if target is None:
                return False
            check_scheme(target)
            _origin(target)  # urlsplit().port raises ValueError for an out-of-range port
            httpx.URL(target)  # what httpx would refuse to request
        except (ValueError, httpx.InvalidURL) as exc:
            raise BadResponseError(f"redirect to an invalid URL ({_detail(exc)})") from None
        if target in self.visited:
            raise FetchError(f"redirect loop at {target}")
        if self.redirects + 1 > self.limits.max_redirects:
            raise FetchError(f"too many redirects (more than {self.limits.max_redirects})")
        self.visited.add(target)
        self.headers = headers_for_hop(self.headers, self.current, target)
        self.previous, self.current = self.current, target
        self.redirects += 1
        return True

    def crossed_origin(self) -> bool:
        return _origin(self.previous) != _origin(self.current)

    def collector(self, response: httpx.Response) -> _BodyCollector:
        return _BodyCollector(response.headers, self.limits.max_bytes)

    def result(
        self,
        response: httpx.Response,
        body: bytes,
        elapsed_s: float,
        reservation: Reservation | None = None,
    ) -> SafeResponse:
        return SafeResponse(
            url=self.current,
            status=response.status_code,
            headers=response.headers,
            body=body,
            redirects=self.redirects,
            elapsed_ms=int(elapsed_s * 1000),
            reservation=reservation,
        )


def fetch(
    client: httpx.Client,
    url: str,
    limits: FetchLimits,
    *,
    headers: dict[str, str] | None = None,
) -> SafeResponse:
    """GET url with the guard, redirects, body cap and deadlines. Any final status is returned.

    Raises FetchError for what gives no usable response (refused, timeout, too large,
    too many redirects, connection errors). The total deadline is checked between body
    pieces, so it can be overrun by at most one read timeout (the async version is exact).
    """
    started = time.monotonic()
    deadline = started + limits.total_timeout
    try:
        hops = _Hops(url, limits, headers)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FetchError(f"timeout (total {limits.total_timeout:g}s)", transient=True)
            response = client.send(hops.request(client, remaining), stream=True)
            try:
                if not hops.follow(response):
                    collector = hops.collector(response)
                    for raw in response.iter_raw():
                        collector.feed(raw)
                        if time.monotonic() > deadline:
                            raise FetchError(
                                f"timeout (total {limits.total_timeout:g}s)", transient=True
                            )
                    body = collector.finish()
                    return hops.result(response, body, time.monotonic() - started)
            finally:
                response.close()
    except Exception as exc:
        raise _translate(exc) from None


async def fetch_async(
    client: httpx.AsyncClient,
    url: str,
    limits: FetchLimits,
    *,
    headers: dict[str, str] | None = None,
    deadline: float | None = None,
    hop_check: HopCheck | None = None,
) -> SafeResponse:
    """Async fetch(); `deadline` (event loop time) can cut the total timeout shorter.

    `hop_check(url)` is awaited before a redirect to another origin is followed; a reason
    it returns stops the fetch with HopRefusedError (the crawler checks robots.txt there).
    """
    hops = _Hops(url, limits, headers)  # raises FetchError only (check_scheme)
    loop = asyncio.get_running_loop()
    started = loop.time()
    own_deadline = started + limits.total_timeout
    hard_deadline = own_deadline if deadline is None else min(deadline, own_deadline)
    budget = hard_deadline - started
    if budget <= 0:
        raise FetchError("timeout (no time left for this page)", transient=True)
    try:
        async with asyncio.timeout_at(hard_deadline):
            return await _walk_async(client, hops, started, hard_deadline, hop_check)
    except TimeoutError:
        raise FetchError(f"timeout (total {budget:.3g}s)", transient=True) from None
    except Exception as exc:
        raise _translate(exc) from None


async def _walk_async(
    client: httpx.AsyncClient,
    hops: _Hops,
    started: float,
    deadline: float,
    hop_check: HopCheck | None,
) -> SafeResponse:
    loop = asyncio.get_running_loop()
    while True:
        response = await client.send(hops.request(client, deadline - loop.time()), stream=True)
        try:
            if not hops.follow(response):
                body, reservation = await _read_async(response, hops)
                return hops.result(response, body, loop.time() - started, reservation)
        finally:
            await response.aclose()
        if hop_check is not None and hops.crossed_origin():
            reason = await hop_check(hops.current)
            if reason is not None:
                raise HopRefusedError(reason, url=hops.current)


async def _read_async(response: httpx.Response, hops: _Hops) -> tuple[bytes, Reservation | None]:
    """The decoded body, each piece reserved first when the limits carry a memory budget."""
    collector = hops.collector(response)
    limits = hops.limits
    if limits.reserve is None or limits.release is None:
        async for raw in response.aiter_raw():
            collector.feed(raw)
        return collector.finish(), None
    reservation = Reservation(limits.reserve, limits.release)
    try:
        async for raw in response.aiter_raw():
            for piece in collector.decode(raw):
                await reservation.take(len(piece))
                collector.keep(piece)
        for piece in collector.decode(b"", final=True):
            await reservation.take(len(piece))
            collector.keep(piece)
        return collector.body(), reservation
    except BaseException:  # failed, timed out or cancelled: nothing holds the bytes any more
        reservation.release()
        raise
