"""Ready-made httpx clients over the safe transports, and fetch_bytes for one-off GETs.

No environment proxies, no .netrc, no cookie memory, redirects left to fetch().
"""

from __future__ import annotations

from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpcore
import httpx

from lambdas.common.safe_http.decoding import ACCEPT_ENCODING
from lambdas.common.safe_http.errors import FetchError
from lambdas.common.safe_http.fetch import (
    FetchLimits,
    fetch,
    is_transient_status,
    parse_retry_after,
)
from lambdas.common.safe_http.guard import Resolver
from lambdas.common.safe_http.transports import AsyncSafeTransport, SafeTransport
from lambdas.common.settings import Settings


def _no_cookies() -> CookieJar:
    """A jar that stores nothing, so no cookie set by one site is ever sent to another."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


class _ForgetfulCookies(httpx.Cookies):
    """The client's cookies: the jar above, and Set-Cookie headers not even parsed (httpx
    would parse every response's into a jar that refuses them: ~10% of a keep-alive GET's
    CPU)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


def _forget_cookies(client: httpx.Client | httpx.AsyncClient) -> None:
    # httpx copies a Cookies given to the constructor or the setter into a plain Cookies.
    client._cookies = _ForgetfulCookies(_no_cookies())


def default_headers(settings: Settings) -> dict[str, str]:
    return {
        "User-Agent": settings.user_agent,
        "Accept-Encoding": ACCEPT_ENCODING,
        "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    }


def make_client(
    settings: Settings,
    *,
    resolver: Resolver | None = None,
    network_backend: httpcore.NetworkBackend | None = None,
) -> httpx.Client:
    """A sync httpx.Client over SafeTransport (no env proxies, no .netrc, no cookie memory)."""
    transport = SafeTransport(
        allow_private_networks=settings.allow_private_networks,
        resolver=resolver,
        network_backend=network_backend,
    )
    client = httpx.Client(
        transport=transport,
        follow_redirects=False,
        trust_env=False,
        cookies=_no_cookies(),
        headers=default_headers(settings),
    )
    _forget_cookies(client)
    return client


def make_async_client(
    settings: Settings,
    *,
    resolver: Resolver | None = None,
    max_connections: int = 100,
    network_backend: httpcore.AsyncNetworkBackend | None = None,
    keepalive_expiry: float = 5.0,
) -> httpx.AsyncClient:
    """An httpx.AsyncClient over AsyncSafeTransport with a shared connection pool whose idle
    connections are dropped after `keepalive_expiry` seconds."""
    transport = AsyncSafeTransport(
        allow_private_networks=settings.allow_private_networks,
        resolver=resolver,
        limits=httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=keepalive_expiry,
        ),
        network_backend=network_backend,
    )
    client = httpx.AsyncClient(
        transport=transport,
        follow_redirects=False,
        trust_env=False,
        cookies=_no_cookies(),
        headers=default_headers(settings),
    )
    _forget_cookies(client)
    return client


def fetch_bytes(
    url: str,
    settings: Settings,
    *,
    max_bytes: int | None = None,
    resolver: Resolver | None = None,
) -> bytes:
    """GET url safely and return its (decompressed) body; any non-2xx raises FetchError."""
    limits = FetchLimits.from_settings(settings, max_bytes=max_bytes)
    with make_client(settings, resolver=resolver) as client:
        response = fetch(client, url, limits)
    if not 200 <= response.status < 300:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        raise FetchError(
            f"HTTP {response.status}",
            transient=is_transient_status(response.status),
            status=response.status,
            retry_after=retry_after,
        )
    return response.body
