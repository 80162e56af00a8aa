"""Containment: whatever a hostile response makes a fetch raise comes out as a FetchError.

Two layers: a property test over header values served by httpx.MockTransport (no sockets
at all), and the cases found by the hostile-site checker (issue 11) against a real server on
127.0.0.1, through both the sync and the async client.
"""

import asyncio
import gzip
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdas.common.safe_http import (
    BadResponseError,
    FetchError,
    FetchLimits,
    SafeResponse,
    fetch,
    fetch_async,
    make_async_client,
    make_client,
)
from lambdas.common.settings import Settings
from tests.lambdas.crawl_support import (
    RecordingResolver,
    ScenarioHandler,
    ScenarioServer,
    running_server,
)

LOCAL = Settings(allow_private_networks=True, request_timeout=3.0)
LIMITS = FetchLimits.from_settings(LOCAL)


@pytest.fixture
def server() -> Iterator[ScenarioServer]:
    with running_server() as s:
        yield s


def _raw(response: bytes) -> object:
    def route(handler: ScenarioHandler) -> None:
        handler.wfile.write(response)
        handler.wfile.flush()
        handler.close_connection = True

    return route


def _both(url: str) -> list[FetchError]:
    """The error the sync and the async fetch raise for `url` (each must raise one)."""
    errors: list[FetchError] = []
    no_dns = RecordingResolver({})  # no name is ever looked up for real
    with make_client(LOCAL, resolver=no_dns) as client, pytest.raises(FetchError) as sync:
        fetch(client, url, LIMITS)
    errors.append(sync.value)

    async def run() -> None:
        async with make_async_client(LOCAL, resolver=no_dns) as client:
            with pytest.raises(FetchError) as caught:
                await fetch_async(client, url, LIMITS)
            errors.append(caught.value)

    asyncio.run(run())
    return errors


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://127.0.0.1:99999/x", "redirect to an invalid URL (Port out of range 0-65535)"),
        ("http://127.0.0.1:-1/x", "redirect to an invalid URL"),
        ("http://127.0.0.1:8o/x", "redirect to an invalid URL"),
        ("http://[::1/x", "redirect to an invalid URL"),
    ],
)
def test_a_redirect_to_a_malformed_url_is_a_permanent_fetch_error(
    server: ScenarioServer, location: str, reason: str
) -> None:
    server.redirect("/go", location)
    for error in _both(server.url("/go")):
        assert isinstance(error, BadResponseError)
        assert error.reason.startswith(reason)
        assert not error.transient


def test_a_thousand_stacked_content_encodings_are_refused_before_decoding(
    server: ScenarioServer,
) -> None:
    body = b"<p>x</p>"
    for _ in range(1200):
        body = gzip.compress(body)
    server.html("/onion", body, headers={"Content-Encoding": ", ".join(["gzip"] * 1200)})
    for error in _both(server.url("/onion")):
        assert error.reason == "too many Content-Encoding layers (1200; at most 5)"
        assert not error.transient


def test_five_content_encodings_still_decode(server: ScenarioServer) -> None:
    body = b"<p>five</p>"
    for _ in range(5):
        body = gzip.compress(body)
    server.html("/five", body, headers={"Content-Encoding": "gzip, x-gzip, gzip, gzip, gzip"})
    with make_client(LOCAL) as client:
        assert fetch(client, server.url("/five"), LIMITS).body == b"<p>five</p>"


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (b"HTTP/1.1 200 OK\r\nX-Bad: a\x00b\r\nContent-Length: 2\r\n\r\nok", "malformed response"),
        (b"HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 2\r\n\r\nok", "malformed response"),
        (
            b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 200_000 + b"\r\nContent-Length: 2\r\n\r\nok",
            "malformed response",
        ),
        (b"HTTP/1.1 abc OK\r\n\r\n", "malformed response"),
    ],
)
def test_malformed_response_heads_are_permanent(
    server: ScenarioServer, response: bytes, reason: str
) -> None:
    server.routes["/bad"] = _raw(response)  # type: ignore[assignment]
    for error in _both(server.url("/bad")):
        assert isinstance(error, BadResponseError)
        assert error.reason.startswith(reason)
        assert len(error.reason) < 160
        assert not error.transient


def test_a_server_that_hangs_up_mid_body_stays_transient(server: ScenarioServer) -> None:
    server.routes["/cut"] = _raw(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")  # type: ignore[assignment]
    for error in _both(server.url("/cut")):
        assert error.transient
        assert not isinstance(error, BadResponseError)


def test_non_ascii_digits_in_content_length_are_a_malformed_response(
    server: ScenarioServer,
) -> None:
    # "²".isdigit() is True but int("²") raises; h11 refuses it first, the collector too.
    server.routes["/sup"] = _raw(  # type: ignore[assignment]
        b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\nConnection: close\r\n\r\nok"
    )
    for error in _both(server.url("/sup")):
        assert error.reason == "malformed response (bad Content-Length)"
        assert not error.transient


# ------------------------------------------------------------- property: only FetchError

HEADER_TEXT = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=60,
)
CODINGS = st.lists(
    st.sampled_from(["gzip", "deflate", "br", "identity", "x-gzip", "zstd", "", " GZIP "]),
    max_size=12,
).map(", ".join)


@settings(max_examples=300, deadline=None)
@given(
    status=st.sampled_from([200, 301, 302, 303, 307, 308, 404, 503]),
    location=st.one_of(
        HEADER_TEXT,
        st.builds(lambda port: f"http://a.test:{port}/", st.integers(-10, 10**7)),
        st.sampled_from(["//[::1", "http://[fe80::1%25eth0]/", "http://xn--/", "\\\\evil"]),
    ),
    content_encoding=CODINGS,
    content_length=HEADER_TEXT,
    retry_after=HEADER_TEXT,
    body=st.binary(max_size=64),
)
def test_any_response_head_gives_a_response_or_a_fetch_error(
    status: int,
    location: str,
    content_encoding: str,
    content_length: str,
    retry_after: str,
    body: bytes,
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        headers = [
            (b"location", location.encode("latin-1")),
            (b"content-encoding", content_encoding.encode("latin-1")),
            (b"x-length", content_length.encode("latin-1")),
            (b"retry-after", retry_after.encode("latin-1")),
        ]
        response = httpx.Response(status, headers=headers, content=body)
        response.headers["content-length"] = content_length.strip() or str(len(body))
        return response

    client = httpx.Client(transport=httpx.MockTransport(answer), follow_redirects=False)
    limits = FetchLimits(1.0, 1.0, 5.0, 3, 1024)
    outcome: object
    with client:
        try:
            outcome = fetch(client, "http://a.test/start", limits)
        except FetchError as exc:  # the only exception allowed out
            outcome = exc
    if isinstance(outcome, FetchError):
        assert outcome.reason
    else:
        assert isinstance(outcome, SafeResponse)
        assert len(outcome.body) <= 1024
