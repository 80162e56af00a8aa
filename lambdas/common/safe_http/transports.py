"""httpx transports over an httpcore pool whose network backend is the address guard.

The sync and async transports share their pool options, request conversion and exception
mapping; only the calls into the pool differ.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import ssl
import sys
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import httpcore
import httpx

from lambdas.common.safe_http.backends import _AsyncGuardedBackend, _GuardedBackend
from lambdas.common.safe_http.guard import Resolver, system_resolver

# httpcore asks `import sniffio` on every pool operation; when sniffio is not installed
# (anyio >= 4.10 no longer needs it) each failed import searches sys.path again, which cost
# a third of the crawl's CPU in bench/crawl_throughput.py. Recording the absence once makes
# the same ImportError immediate; behaviour is unchanged (httpcore then assumes asyncio).
if importlib.util.find_spec("sniffio") is None:
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]

# httpcore's exceptions -> httpx's public ones, most specific first (what httpx itself does).
_EXCEPTION_MAP: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def _mapped_exceptions() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for core_type, httpx_type in _EXCEPTION_MAP:
            if isinstance(exc, core_type):
                raise httpx_type(str(exc) or core_type.__name__) from exc
        raise


def _core_request(request: httpx.Request, stream: Any) -> httpcore.Request:
    return httpcore.Request(
        method=request.method,
        url=httpcore.URL(
            scheme=request.url.raw_scheme,
            host=request.url.raw_host,
            port=request.url.port,
            target=request.url.raw_path,
        ),
        headers=request.headers.raw,
        content=stream,
        extensions=request.extensions,
    )


class _SyncStream(httpx.SyncByteStream):
    def __init__(self, core_stream: Iterable[bytes]) -> None:
        self._core_stream = core_stream

    def __iter__(self) -> Iterator[bytes]:
        with _mapped_exceptions():
            yield from self._core_stream

    def close(self) -> None:
        close = getattr(self._core_stream, "close", None)
        if close is not None:
            close()


class _AsyncStream(httpx.AsyncByteStream):
    def __init__(self, core_stream: Any) -> None:
        self._core_stream = core_stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped_exceptions():
            async for part in self._core_stream:
                yield part

    async def aclose(self) -> None:
        aclose = getattr(self._core_stream, "aclose", None)
        if aclose is not None:
            await aclose()


# Building an SSL context loads the CA bundle: ~17 ms of CPU. Once per process, not per client.
@functools.lru_cache(maxsize=4)
def _ssl_context(verify: ssl.SSLContext | bool) -> Any:
    return httpx.create_ssl_context(verify=verify)


def _pool_options(limits: httpx.Limits, verify: ssl.SSLContext | bool) -> dict[str, Any]:
    """What both pools are built with (the guarded backend is added by each twin)."""
    return {
        "ssl_context": _ssl_context(verify),
        "max_connections": limits.max_connections,
        "max_keepalive_connections": limits.max_keepalive_connections,
        "keepalive_expiry": limits.keepalive_expiry,
    }


def _response(
    core: httpcore.Response, stream: httpx.SyncByteStream | httpx.AsyncByteStream
) -> httpx.Response:
    return httpx.Response(
        status_code=core.status, headers=core.headers, stream=stream, extensions=core.extensions
    )


class SafeTransport(httpx.BaseTransport):
    """Sync httpx transport whose every connection goes through the address guard."""

    def __init__(
        self,
        *,
        allow_private_networks: bool = False,
        resolver: Resolver | None = None,
        limits: httpx.Limits | None = None,
        verify: ssl.SSLContext | bool = True,
        network_backend: httpcore.NetworkBackend | None = None,
    ) -> None:
        limits = limits or httpx.Limits(max_connections=20, max_keepalive_connections=20)
        self._pool = httpcore.ConnectionPool(
            **_pool_options(limits, verify),
            network_backend=_GuardedBackend(
                resolver=resolver or system_resolver,
                allow_private_networks=allow_private_networks,
                inner=network_backend,
            ),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        with _mapped_exceptions():
            response = self._pool.handle_request(_core_request(request, request.stream))
        assert isinstance(response.stream, Iterable)
        return _response(response, _SyncStream(response.stream))

    def close(self) -> None:
        self._pool.close()


class AsyncSafeTransport(httpx.AsyncBaseTransport):
    """Async httpx transport whose every connection goes through the address guard."""

    def __init__(
        self,
        *,
        allow_private_networks: bool = False,
        resolver: Resolver | None = None,
        limits: httpx.Limits | None = None,
        verify: ssl.SSLContext | bool = True,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=100)
        self._pool = httpcore.AsyncConnectionPool(
            **_pool_options(limits, verify),
            network_backend=_AsyncGuardedBackend(
                resolver=resolver or system_resolver,
                allow_private_networks=allow_private_networks,
                inner=network_backend,
            ),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        with _mapped_exceptions():
            response = await self._pool.handle_async_request(_core_request(request, request.stream))
        return _response(response, _AsyncStream(response.stream))

    async def aclose(self) -> None:
        await self._pool.aclose()
