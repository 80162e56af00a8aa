"""HTTP that cannot be turned against the network it runs in (SSRF guard) nor exhaust memory.

How the guard works: the httpx transports here own an httpcore connection pool whose network
backend resolves the host ONCE, checks every address it got, and opens the TCP connection to
one of those checked addresses. The URL keeps its hostname, so the Host header, TLS SNI,
certificate verification and connection pooling all stay keyed on the name; no second DNS
lookup happens between the check and the connect (DNS rebinding cannot slip in). Every
redirect hop goes through the same transport, so every hop is checked.

Other limits: redirects are followed here (not by httpx) so each hop's scheme is checked and
credentials are dropped across origins; bodies are streamed and decompressed here with an
output cap, so a gzip/deflate/brotli bomb is stopped after at most the cap plus one 64 KiB
piece; a Content-Length over the cap is refused before reading; there is a total deadline on
top of httpx's connect/read timeouts.

Cloud metadata addresses (169.254.169.254, 169.254.170.2, fd00:ec2::254 and their IPv4-mapped,
6to4, NAT64 forms) stay refused even when allow_private_networks opens private ranges.

Public API: Resolver, system_resolver, FetchError, AddressRefusedError, HopRefusedError,
HopCheck, address_problem, check_address, check_scheme, SafeTransport, AsyncSafeTransport,
AsyncioBackend, FetchLimits, SafeResponse, make_client, make_async_client, fetch,
fetch_async, fetch_bytes, is_transient_status, parse_retry_after, redirect_target,
headers_for_hop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import ipaddress
import socket
import ssl
import sys
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import brotli
import httpcore
import httpx

from lambdas.common.settings import Settings

# httpcore asks `import sniffio` on every pool operation; when sniffio is not installed
# (anyio >= 4.10 no longer needs it) each failed import searches sys.path again, which cost
# a third of the crawl's CPU in bench/crawl_throughput.py. Recording the absence once makes
# the same ImportError immediate; behaviour is unchanged (httpcore then assumes asyncio).
if importlib.util.find_spec("sniffio") is None:
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]

Resolver = Callable[[str, int], list[str]]
"""(host, port) -> the IP addresses it resolves to. Injected in tests to control DNS."""


def _brotli_can_bound_output() -> bool:
    """brotli >= 1.2 can cap each call's output; older versions could expand a bomb at once."""
    try:
        brotli.Decompressor().process(b"", output_buffer_limit=1)
    except TypeError:
        return False
    except brotli.error:
        return True
    return True


BROTLI_BOUNDED = _brotli_can_bound_output()
ACCEPT_ENCODING = "gzip, deflate, br" if BROTLI_BOUNDED else "gzip, deflate"
DECODE_PIECE = 64 * 1024  # largest piece a decompressor may produce per call
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CREDENTIAL_HEADERS = ("authorization", "cookie", "proxy-authorization")


class FetchError(Exception):
    """A fetch failed; `reason` is short and human ("timeout (read)", "HTTP 404", ...).

    `transient` says whether trying again later may help (timeouts, connection errors,
    408/429/5xx); `status` and `retry_after` are set when the server answered.
    """

    def __init__(
        self,
        reason: str,
        *,
        transient: bool = False,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
        self.status = status
        self.retry_after = retry_after


class HopRefusedError(FetchError):
    """A redirect target the caller's hop_check refused (e.g. robots.txt disallows it)."""

    def __init__(self, reason: str, *, url: str) -> None:
        super().__init__(reason)
        self.url = url


HopCheck = Callable[[str], Awaitable[str | None]]


class AddressRefusedError(FetchError):
    """The host resolved to an address the guard refuses (never connected to)."""


# --------------------------------------------------------------------------- address guard

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# Always refused, even with allow_private_networks: instance credentials live there.
_METADATA = (
    ipaddress.ip_address("169.254.169.254"),  # EC2/ECS IMDS, most clouds
    ipaddress.ip_address("169.254.170.2"),  # ECS task metadata / credentials
    ipaddress.ip_address("fd00:ec2::254"),  # EC2 IMDS over IPv6
)

_IPV4_RULES: tuple[tuple[_V4, str], ...] = (
    (_V4("0.0.0.0/8"), "an unspecified"),
    (_V4("10.0.0.0/8"), "a private"),
    (_V4("100.64.0.0/10"), "a carrier-grade NAT"),
    (_V4("127.0.0.0/8"), "a loopback"),
    (_V4("169.254.0.0/16"), "a link-local"),
    (_V4("172.16.0.0/12"), "a private"),
    (_V4("192.0.0.0/24"), "a reserved"),
    (_V4("192.0.2.0/24"), "a reserved (documentation)"),
    (_V4("192.88.99.0/24"), "a reserved (6to4 relay)"),
    (_V4("192.168.0.0/16"), "a private"),
    (_V4("198.18.0.0/15"), "a reserved (benchmarking)"),
    (_V4("198.51.100.0/24"), "a reserved (documentation)"),
    (_V4("203.0.113.0/24"), "a reserved (documentation)"),
    (_V4("224.0.0.0/4"), "a multicast"),
    (_V4("240.0.0.0/4"), "a reserved"),
)

_IPV6_RULES: tuple[tuple[_V6, str], ...] = (
    (_V6("::/128"), "an unspecified"),
    (_V6("::1/128"), "a loopback"),
    (_V6("64:ff9b:1::/48"), "a reserved (local NAT64)"),
    (_V6("100::/64"), "a reserved (discard)"),
    (_V6("2001::/32"), "a reserved (Teredo)"),
    (_V6("2001:db8::/32"), "a reserved (documentation)"),
    (_V6("fc00::/7"), "a unique-local"),
    (_V6("fe80::/10"), "a link-local"),
    (_V6("fec0::/10"), "a reserved (site-local)"),
    (_V6("ff00::/8"), "a multicast"),
)

_NAT64 = _V6("64:ff9b::/96")
_IPV4_COMPATIBLE = _V6("::/96")
_GLOBAL_UNICAST_V6 = _V6("2000::/3")


def _embedded_ipv4(addr: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, str] | None:
    """The IPv4 address hidden in an IPv4-mapped, -compatible, 6to4 or NAT64 IPv6 address."""
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped, "IPv4-mapped"
    if addr.sixtofour is not None:
        return addr.sixtofour, "6to4"
    if addr in _NAT64:
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF), "NAT64"
    if addr in _IPV4_COMPATIBLE and int(addr) > 1:
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF), "IPv4-compatible"
    return None


def _ipv4_problem(addr: ipaddress.IPv4Address) -> str | None:
    for network, kind in _IPV4_RULES:
        if addr in network:
            return kind
    return None if addr.is_global else "a reserved"


def address_problem(ip: str) -> str | None:
    """Why `ip` must not be contacted ("a private", "a loopback", ...), or None if it is public.

    Raises ValueError for a string that is not an IP address.
    """
    addr = ipaddress.ip_address(ip.split("%", 1)[0])  # drop an IPv6 zone id ("fe80::1%eth0")
    if addr in _METADATA:
        return "the cloud metadata"
    if isinstance(addr, ipaddress.IPv4Address):
        return _ipv4_problem(addr)
    embedded = _embedded_ipv4(addr)
    if embedded is not None:
        inner, form = embedded
        if inner in _METADATA:
            return f"an {form} form of the cloud metadata"
        inner_problem = _ipv4_problem(inner)
        return None if inner_problem is None else f"an {form} {inner_problem.split(' ', 1)[1]}"
    for network, kind in _IPV6_RULES:
        if addr in network:
            return kind
    return None if addr in _GLOBAL_UNICAST_V6 else "a reserved"


def check_address(ip: str, *, allow_private_networks: bool = False) -> None:
    """Raise AddressRefusedError unless `ip` may be contacted.

    allow_private_networks lets private, loopback, link-local, ... through (local runs, the
    demo, tests); cloud metadata addresses stay refused whatever the setting.
    """
    try:
        problem = address_problem(ip)
    except ValueError:
        raise AddressRefusedError(f"refused: {ip!r} is not an IP address") from None
    if problem is None:
        return
    if allow_private_networks and "metadata" not in problem:
        return
    raise AddressRefusedError(f"refused: {ip} is {problem} address")


def system_resolver(host: str, port: int) -> list[str]:
    """All addresses getaddrinfo gives for host:port, in its order, without duplicates."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: dict[str, None] = {}
    for info in infos:
        seen.setdefault(str(info[4][0]), None)
    return list(seen)


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _resolve_checked(
    host: str, port: int, resolver: Resolver, allow_private_networks: bool
) -> list[str]:
    """Resolve once and check every address; any refused address refuses the host."""
    if _is_ip_literal(host):
        addresses = [host]
    else:
        try:
            addresses = resolver(host, port)
        except socket.gaierror as exc:
            transient = exc.errno in (socket.EAI_AGAIN, getattr(socket, "EAI_SYSTEM", -11))
            raise FetchError(f"DNS lookup failed for {host}", transient=transient) from None
        except OSError as exc:
            raise FetchError(f"DNS lookup failed for {host} ({exc})", transient=True) from None
        if not addresses:
            raise FetchError(f"DNS lookup failed for {host} (no addresses)")
    for address in addresses:
        check_address(address, allow_private_networks=allow_private_networks)
    return addresses


class _GuardedBackend(httpcore.NetworkBackend):
    """Sync network backend: connect only to addresses that passed check_address."""

    def __init__(
        self,
        *,
        resolver: Resolver,
        allow_private_networks: bool,
        inner: httpcore.NetworkBackend | None = None,
    ) -> None:
        self._resolver = resolver
        self._allow_private = allow_private_networks
        self._inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = _resolve_checked(host, port, self._resolver, self._allow_private)
        last_error: Exception | None = None
        for address in addresses:
            try:
                return self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        raise AddressRefusedError("refused: unix sockets are not crawled")

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
        raise AddressRefusedError("refused: unix sockets are not crawled")

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
        self._resolver = resolver
        self._allow_private = allow_private_networks
        self._inner = inner or AsyncioBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if _is_ip_literal(host):
            addresses = _resolve_checked(host, port, self._resolver, self._allow_private)
        else:
            addresses = await asyncio.to_thread(
                _resolve_checked, host, port, self._resolver, self._allow_private
            )
        last_error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        raise AddressRefusedError("refused: unix sockets are not crawled")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


# --------------------------------------------------------------------------- transports

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
            ssl_context=_ssl_context(verify),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
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
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_SyncStream(response.stream),
            extensions=response.extensions,
        )

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
            ssl_context=_ssl_context(verify),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
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
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_AsyncStream(response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


# --------------------------------------------------------------------------- bounded decoding


class _Decoder(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...
    def flush(self) -> Iterator[bytes]: ...


class _Identity:
    def feed(self, data: bytes) -> Iterator[bytes]:
        if data:
            yield data

    def flush(self) -> Iterator[bytes]:
        return iter(())


class _Zlib:
    """gzip / deflate with bounded output per call (zlib's max_length + unconsumed_tail)."""

    def __init__(self, encoding: str) -> None:
        self._encoding = encoding
        self._wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
        self._inflater = zlib.decompressobj(self._wbits)
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        try:
            yield from self._drain(data)
        except zlib.error:
            if self._encoding == "deflate" and not self._started:
                # Some servers send raw deflate without the zlib header.
                self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                self._wbits = -zlib.MAX_WBITS
                try:
                    yield from self._drain(data)
                    return
                except zlib.error:
                    pass
            raise FetchError(f"body is not valid {self._encoding} data") from None

    def _drain(self, data: bytes) -> Iterator[bytes]:
        pending = data
        while True:
            piece = self._inflater.decompress(pending, DECODE_PIECE)
            self._started = True
            if piece:
                yield piece
            pending = self._inflater.unconsumed_tail
            if not pending and len(piece) < DECODE_PIECE:
                return

    def flush(self) -> Iterator[bytes]:
        yield from self.feed(b"")


class _Brotli:
    """brotli with bounded output per call (output_buffer_limit, brotli >= 1.2)."""

    def __init__(self) -> None:
        self._decompressor = brotli.Decompressor()

    def feed(self, data: bytes) -> Iterator[bytes]:
        try:
            piece = self._decompressor.process(data, output_buffer_limit=DECODE_PIECE)
            if piece:
                yield piece
            # A full piece may mean more output is pending even when all input was taken.
            while len(piece) >= DECODE_PIECE or not self._decompressor.can_accept_more_data():
                piece = self._decompressor.process(b"", output_buffer_limit=DECODE_PIECE)
                if not piece and self._decompressor.can_accept_more_data():
                    break
                if piece:
                    yield piece
        except brotli.error:
            raise FetchError("body is not valid br data") from None

    def flush(self) -> Iterator[bytes]:
        return iter(())


class _Chain:
    def __init__(self, decoders: list[_Decoder]) -> None:
        self._decoders = decoders

    def _through(self, pieces: Iterable[bytes], start: int) -> Iterator[bytes]:
        if start == len(self._decoders):
            yield from pieces
            return
        decoder = self._decoders[start]
        for piece in pieces:
            yield from self._through(decoder.feed(piece), start + 1)

    def feed(self, data: bytes) -> Iterator[bytes]:
        return self._through([data], 0)

    def flush(self) -> Iterator[bytes]:
        for index, decoder in enumerate(self._decoders):
            yield from self._through(decoder.flush(), index + 1)


def _decoder_for(content_encoding: str | None) -> _Decoder:
    """Decoders for a Content-Encoding header, in the order to apply them."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    decoders: list[_Decoder] = []
    for coding in reversed(codings):
        if coding in ("identity", ""):
            continue
        if coding in ("gzip", "x-gzip"):
            decoders.append(_Zlib("gzip"))
        elif coding == "deflate":
            decoders.append(_Zlib("deflate"))
        elif coding == "br" and BROTLI_BOUNDED:
            decoders.append(_Brotli())
        else:
            raise FetchError(f"unsupported Content-Encoding {coding!r}")
    if not decoders:
        return _Identity()
    return decoders[0] if len(decoders) == 1 else _Chain(decoders)


def _human_size(size: int) -> str:
    if size >= 1024 * 1024 and size % (1024 * 1024) == 0:
        return f"{size // (1024 * 1024)} MiB"
    if size >= 1024 and size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size} bytes"


class _BodyCollector:
    """Decode and collect a body, refusing to hold more than max_bytes after decoding."""

    def __init__(self, headers: httpx.Headers, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        declared = headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > max_bytes:
            raise FetchError(
                f"body larger than {_human_size(max_bytes)} (Content-Length {int(declared)})"
            )
        self._decoder = _decoder_for(headers.get("content-encoding"))
        self._buffer = bytearray()

    def _take(self, pieces: Iterable[bytes]) -> None:
        for piece in pieces:
            if len(self._buffer) + len(piece) > self._max_bytes:
                raise FetchError(f"body larger than {_human_size(self._max_bytes)}")
            self._buffer += piece

    def feed(self, raw: bytes) -> None:
        self._take(self._decoder.feed(raw))

    def finish(self) -> bytes:
        self._take(self._decoder.flush())
        return bytes(self._buffer)


# --------------------------------------------------------------------------- fetching


@dataclass(frozen=True)
class FetchLimits:
    connect_timeout: float
    read_timeout: float
    total_timeout: float  # the whole fetch: every hop and every body byte
    max_redirects: int
    max_bytes: int

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


@dataclass(frozen=True)
class SafeResponse:
    url: str  # the final URL, after redirects
    status: int
    headers: httpx.Headers
    body: bytes  # decompressed, at most FetchLimits.max_bytes
    redirects: int
    elapsed_ms: int

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
    scheme = urlsplit(url).scheme.lower()
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
    if text.isdigit():
        return float(text)
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


def _translate(exc: Exception) -> FetchError:
    """httpx's exceptions -> FetchError with a short reason and the transient flag."""
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
    if isinstance(exc, (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)):
        detail = str(exc) or type(exc).__name__
        return FetchError(f"connection broken ({detail})", transient=True)
    if isinstance(exc, (httpx.HTTPError, httpx.InvalidURL)):
        return FetchError(f"request failed ({exc})")
    raise exc


def _next_hop(
    response: httpx.Response,
    url: str,
    headers: dict[str, str],
    visited: set[str],
    redirects: int,
    max_redirects: int,
) -> tuple[str, dict[str, str]] | None:
    target = redirect_target(response, url)
    if target is None:
        return None
    check_scheme(target)
    if target in visited:
        raise FetchError(f"redirect loop at {target}")
    if redirects + 1 > max_redirects:
        raise FetchError(f"too many redirects (more than {max_redirects})")
    visited.add(target)
    return target, headers_for_hop(headers, url, target)


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
    check_scheme(url)
    started = time.monotonic()
    deadline = started + limits.total_timeout
    hop_headers = dict(headers or {})
    visited = {url}
    redirects = 0
    current = url
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FetchError(f"timeout (total {limits.total_timeout:g}s)", transient=True)
            request = client.build_request(
                "GET", current, headers=hop_headers, timeout=_timeout(limits, remaining)
            )
            response = client.send(request, stream=True)
            try:
                hop = _next_hop(
                    response, current, hop_headers, visited, redirects, limits.max_redirects
                )
                if hop is None:
                    collector = _BodyCollector(response.headers, limits.max_bytes)
                    for raw in response.iter_raw():
                        collector.feed(raw)
                        if time.monotonic() > deadline:
                            raise FetchError(
                                f"timeout (total {limits.total_timeout:g}s)", transient=True
                            )
                    body = collector.finish()
                    return SafeResponse(
                        url=current,
                        status=response.status_code,
                        headers=response.headers,
                        body=body,
                        redirects=redirects,
                        elapsed_ms=int((time.monotonic() - started) * 1000),
                    )
            finally:
                response.close()
            current, hop_headers = hop
            redirects += 1
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
    check_scheme(url)
    loop = asyncio.get_running_loop()
    started = loop.time()
    own_deadline = started + limits.total_timeout
    hard_deadline = own_deadline if deadline is None else min(deadline, own_deadline)
    budget = hard_deadline - started
    if budget <= 0:
        raise FetchError("timeout (no time left for this page)", transient=True)
    try:
        async with asyncio.timeout_at(hard_deadline):
            return await _fetch_async_hops(
                client, url, limits, headers, started, hard_deadline, hop_check
            )
    except TimeoutError:
        raise FetchError(f"timeout (total {budget:.3g}s)", transient=True) from None
    except Exception as exc:
        raise _translate(exc) from None


async def _fetch_async_hops(
    client: httpx.AsyncClient,
    url: str,
    limits: FetchLimits,
    headers: dict[str, str] | None,
    started: float,
    deadline: float,
    hop_check: HopCheck | None,
) -> SafeResponse:
    loop = asyncio.get_running_loop()
    hop_headers = dict(headers or {})
    visited = {url}
    redirects = 0
    current = url
    while True:
        remaining = deadline - loop.time()
        request = client.build_request(
            "GET", current, headers=hop_headers, timeout=_timeout(limits, remaining)
        )
        response = await client.send(request, stream=True)
        try:
            hop = _next_hop(
                response, current, hop_headers, visited, redirects, limits.max_redirects
            )
            if hop is None:
                collector = _BodyCollector(response.headers, limits.max_bytes)
                async for raw in response.aiter_raw():
                    collector.feed(raw)
                body = collector.finish()
                return SafeResponse(
                    url=current,
                    status=response.status_code,
                    headers=response.headers,
                    body=body,
                    redirects=redirects,
                    elapsed_ms=int((loop.time() - started) * 1000),
                )
        finally:
            await response.aclose()
        previous = current
        current, hop_headers = hop
        redirects += 1
        if hop_check is not None and _origin(previous) != _origin(current):
            reason = await hop_check(current)
            if reason is not None:
                raise HopRefusedError(reason, url=current)


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
