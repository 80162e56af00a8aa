"""Network backends for httpcore: the guarded ones (resolve once, check, connect) and asyncio.

The sync and async guarded backends share the guard (resolve once, check every address) and
the rule for trying the checked addresses in order; only the connect call differs.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore

from lambdas.common.safe_http.decoding import DECODE_PIECE
from lambdas.common.safe_http.errors import AddressRefusedError
from lambdas.common.safe_http.guard import Resolver, _is_ip_literal, _resolve_checked

_CONNECT_ERRORS = (httpcore.ConnectError, httpcore.ConnectTimeout)


class _Guard:
    """The resolver and the private-networks setting both guarded backends check with."""

    def __init__(self, resolver: Resolver, allow_private_networks: bool) -> None:
        self._resolver = resolver
        self._allow_private = allow_private_networks

    def addresses(self, host: str, port: int) -> list[str]:
        return _resolve_checked(host, port, self._resolver, self._allow_private)

    async def addresses_async(self, host: str, port: int) -> list[str]:
        if _is_ip_literal(host):
            return self.addresses(host, port)
        return await asyncio.to_thread(self.addresses, host, port)  # the resolver blocks


def _unix_refused() -> AddressRefusedError:
    return AddressRefusedError("refused: unix sockets are not crawled")


class _GuardedBackend(httpcore.NetworkBackend):
    """Sync network backend: connect only to addresses that passed check_address."""

    def __init__(
        self,
        *,
        resolver: Resolver,
        allow_private_networks: bool,
        inner: httpcore.NetworkBackend | None = None,
    ) -> None:
        self._guard = _Guard(resolver, allow_private_networks)
        self._inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        last_error: Exception | None = None
        for address in self._guard.addresses(host, port):
            try:
                return self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except _CONNECT_ERRORS as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        raise _unix_refused()

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _AsyncioStream(httpcore.AsyncNetworkStream):
    """httpcore stream over asyncio streams (the crawler runs on asyncio only)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)
        except TimeoutError:
            raise httpcore.ReadTimeout("read timed out") from None
        except OSError as exc:
            raise httpcore.ReadError(str(exc)) from exc

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            async with asyncio.timeout(timeout):
                self._writer.write(buffer)
                await self._writer.drain()
        except TimeoutError:
            raise httpcore.WriteTimeout("write timed out") from None
        except OSError as exc:
            raise httpcore.WriteError(str(exc)) from exc

    async def aclose(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError, asyncio.CancelledError):
            await self._writer.wait_closed()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
        except TimeoutError:
            await self.aclose()
            raise httpcore.ConnectTimeout("TLS handshake timed out") from None
        except (OSError, ssl.SSLError) as exc:
            await self.aclose()
            raise httpcore.ConnectError(str(exc)) from exc
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # An idle pooled connection the server has closed must not be reused.
            return self._reader.at_eof() or self._writer.transport.is_closing()
        if info == "ssl_object":
            return self._writer.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._writer.get_extra_info("sockname")
        if info == "server_addr":
            return self._writer.get_extra_info("peername")
        if info == "socket":
            return self._writer.get_extra_info("socket")
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Plain asyncio network backend for httpcore.

    httpcore's own AnyIO backend spends most of a keep-alive crawl's CPU in AnyIO's
    attribute lookups (bench/crawl_throughput.py); this one connects only to IP literals
    that the guard has already checked, so it never resolves names itself.
    """

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host,
                    port,
                    local_addr=(local_address, 0) if local_address else None,
                    limit=DECODE_PIECE * 4,
                )
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"connect to {host}:{port} timed out") from None
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        sock = writer.get_extra_info("socket")
        if sock is not None:
            for option in socket_options or ():
                sock.setsockopt(*option)
        return _AsyncioStream(reader, writer)

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        raise _unix_refused()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class _AsyncGuardedBackend(httpcore.AsyncNetworkBackend):
    """Async twin of _GuardedBackend (asyncio); the blocking resolver runs in a thread."""

    def __init__(
        self,
        *,
        resolver: Resolver,
        allow_private_networks: bool,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._guard = _Guard(resolver, allow_private_networks)
        self._inner = inner or AsyncioBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        last_error: Exception | None = None
        for address in await self._guard.addresses_async(host, port):
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except _CONNECT_ERRORS as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        raise _unix_refused()

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
