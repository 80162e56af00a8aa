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

Cloud metadata addresses (169.254.169.254, 169.254.170.2, fd00:ec2::254, ...) stay refused even
when allow_private_networks opens private ranges, in every IPv6 form that embeds them (guard.py).

Containment: whatever a hostile response makes a fetch raise (a Location with an
out-of-range port, a thousand stacked Content-Encodings, malformed header bytes, ...) comes
out as a FetchError with a short reason and the transient flag, never as another exception.

Modules, each one job (the arrows point down):
  errors      FetchError and its kinds
  guard       which addresses may be contacted; resolve once and check
  decoding    Content-Encoding (gzip, deflate, br) with bounded output
  backends    httpcore network backends: guarded sync/async, plain asyncio
  transports  httpx transports over a guarded httpcore pool (sync and async twins)
  fetch       the redirect walk, limits and deadlines (fetch, fetch_async share _Hops)
  clients     make_client, make_async_client, fetch_bytes
"""

from lambdas.common.safe_http.backends import AsyncioBackend
from lambdas.common.safe_http.clients import (
    default_headers,
    fetch_bytes,
    make_async_client,
    make_client,
)
from lambdas.common.safe_http.decoding import (
    ACCEPT_ENCODING,
    BROTLI_BOUNDED,
    DECODE_PIECE,
    MAX_CONTENT_CODINGS,
)
from lambdas.common.safe_http.decoding import _BodyCollector as _BodyCollector
from lambdas.common.safe_http.errors import (
    AddressRefusedError,
    BadResponseError,
    FetchError,
    HopRefusedError,
    UnexpectedFetchError,
)
from lambdas.common.safe_http.fetch import (
    CREDENTIAL_HEADERS,
    REDIRECT_STATUSES,
    FetchLimits,
    HopCheck,
    Release,
    Reservation,
    Reserve,
    SafeResponse,
    check_scheme,
    fetch,
    fetch_async,
    headers_for_hop,
    is_transient_status,
    parse_retry_after,
    redirect_target,
)
from lambdas.common.safe_http.guard import (
    Resolver,
    address_problem,
    check_address,
    system_resolver,
)
from lambdas.common.safe_http.transports import AsyncSafeTransport, SafeTransport

__all__ = [
    "ACCEPT_ENCODING",
    "BROTLI_BOUNDED",
    "CREDENTIAL_HEADERS",
    "DECODE_PIECE",
    "MAX_CONTENT_CODINGS",
    "REDIRECT_STATUSES",
    "AddressRefusedError",
    "AsyncSafeTransport",
    "AsyncioBackend",
    "BadResponseError",
    "FetchError",
    "FetchLimits",
    "HopCheck",
    "HopRefusedError",
    "Release",
    "Reservation",
    "Reserve",
    "Resolver",
    "SafeResponse",
    "SafeTransport",
    "UnexpectedFetchError",
    "address_problem",
    "check_address",
    "check_scheme",
    "default_headers",
    "fetch",
    "fetch_async",
    "fetch_bytes",
    "headers_for_hop",
    "is_transient_status",
    "make_async_client",
    "make_client",
    "parse_retry_after",
    "redirect_target",
    "system_resolver",
]
