"""safe_http against a real HTTP server on 127.0.0.1 (scenario endpoints in crawl_support).

DNS answers for non-loopback names come from an injected resolver, and connections go
through a recording backend that fails the test if anything but 127.0.0.0/8 is dialled.
"""

import asyncio
import time
import tracemalloc
from collections.abc import Iterator

import pytest

from lambdas.common.safe_http import (
    AddressRefusedError,
    FetchError,
    FetchLimits,
    fetch,
    fetch_async,
    fetch_bytes,
    make_async_client,
    make_client,
)
from lambdas.common.settings import Settings
from tests.lambdas.crawl_support import (
    AsyncRecordingBackend,
    RecordingBackend,
    RecordingResolver,
    ScenarioHandler,
    ScenarioServer,
    brotli_bomb,
    gzip_bomb,
    running_server,
)

LOCAL = Settings(allow_private_networks=True, request_timeout=3.0)


@pytest.fixture
def server() -> Iterator[ScenarioServer]:
    with running_server() as s:
        yield s


@pytest.fixture
def other_server() -> Iterator[ScenarioServer]:
    with running_server() as s:
        yield s


def test_loopback_is_refused_by_default_and_nothing_reaches_the_server(
    server: ScenarioServer,
) -> None:
    server.html("/", "<p>secret</p>")
    with pytest.raises(AddressRefusedError) as caught:
        fetch_bytes(server.url("/"), Settings())
    assert caught.value.reason == "refused: 127.0.0.1 is a loopback address"
    assert server.seen == []


def test_loopback_is_fetched_with_allow_private_networks(server: ScenarioServer) -> None:
    server.html("/", "<p>hello</p>")
    assert fetch_bytes(server.url("/"), LOCAL) == b"<p>hello</p>"
    assert server.hits("/")[0].headers["user-agent"] == LOCAL.user_agent


def test_public_name_resolving_to_private_address_is_refused_without_connecting() -> None:
    resolver = RecordingResolver({"intranet.example.com": ["10.0.0.5"]})
    backend = RecordingBackend()
    with (
        make_client(Settings(), resolver=resolver, network_backend=backend) as client,
        pytest.raises(AddressRefusedError, match=r"refused: 10\.0\.0\.5 is a private address"),
    ):
        fetch(client, "http://intranet.example.com/", FetchLimits.from_settings(Settings()))
    assert resolver.lookups == ["intranet.example.com"]
    assert backend.connects == []


def test_any_refused_address_among_the_answers_refuses_the_host() -> None:
    resolver = RecordingResolver({"mixed.example.com": ["93.184.215.14", "127.0.0.1"]})
    backend = RecordingBackend()
    with (
        make_client(Settings(), resolver=resolver, network_backend=backend) as client,
        pytest.raises(AddressRefusedError, match="loopback"),
    ):
        fetch(client, "http://mixed.example.com/", FetchLimits.from_settings(Settings()))
    assert backend.connects == []


def test_redirect_to_metadata_address_is_refused_even_with_private_allowed(
    server: ScenarioServer,
) -> None:
    server.redirect("/go", "http://metadata.example.com/latest/meta-data/")
    resolver = RecordingResolver({"metadata.example.com": ["169.254.169.254"]})
    backend = RecordingBackend()
    with (
        make_client(LOCAL, resolver=resolver, network_backend=backend) as client,
        pytest.raises(AddressRefusedError, match=r"169\.254\.169\.254 is the cloud metadata"),
    ):
        fetch(client, server.url("/go"), FetchLimits.from_settings(LOCAL))
    assert backend.connects == [("127.0.0.1", server.port)]
    assert resolver.lookups == ["metadata.example.com"]


def test_redirect_to_ipv6_metadata_literal_is_refused(server: ScenarioServer) -> None:
    server.redirect("/go", "http://[fd00:ec2::254]/latest/")
    backend = RecordingBackend()
    with (
        make_client(LOCAL, network_backend=backend) as client,
        pytest.raises(AddressRefusedError, match="metadata"),
    ):
        fetch(client, server.url("/go"), FetchLimits.from_settings(LOCAL))
    assert backend.connects == [("127.0.0.1", server.port)]


def test_connects_to_the_checked_address_keeping_the_hostname(server: ScenarioServer) -> None:
    server.html("/a", "a")
    server.html("/b", "b")
    # A rebinding resolver: a second lookup would answer a private address.
    answers = iter([["127.0.0.1"], ["10.0.0.9"]])
    lookups: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        lookups.append(host)
        return next(answers)

    backend = RecordingBackend()
    settings = Settings(allow_private_networks=True)
    with make_client(settings, resolver=rebinding, network_backend=backend) as client:
        limits = FetchLimits.from_settings(settings)
        assert fetch(client, f"http://site.example.com:{server.port}/a", limits).body == b"a"
        assert fetch(client, f"http://site.example.com:{server.port}/b", limits).body == b"b"
    assert lookups == ["site.example.com"]  # one lookup, one pooled connection
    assert backend.connects == [("127.0.0.1", server.port)]
    assert server.hits("/a")[0].headers["host"] == f"site.example.com:{server.port}"


def test_redirect_chain_is_followed_and_counted(server: ScenarioServer) -> None:
    server.redirect("/1", "/2", 301)
    server.redirect("/2", server.url("/3"), 307)
    server.redirect("/3", "/final?x=1#frag", 308)
    server.html("/final", "done")
    with make_client(LOCAL) as client:
        response = fetch(client, server.url("/1"), FetchLimits.from_settings(LOCAL))
    assert response.url == server.url("/final?x=1")
    assert response.redirects == 3
    assert response.body == b"done"


def test_redirect_loop_and_too_many_redirects_are_permanent_errors(
    server: ScenarioServer,
) -> None:
    server.redirect("/loop-a", "/loop-b")
    server.redirect("/loop-b", "/loop-a")
    for n in range(5):
        server.redirect(f"/hop{n}", f"/hop{n + 1}")
    server.html("/hop5", "end")
    settings = Settings(allow_private_networks=True, max_redirects=3)
    limits = FetchLimits.from_settings(settings)
    with make_client(settings) as client:
        with pytest.raises(FetchError, match="redirect loop") as loop:
            fetch(client, server.url("/loop-a"), limits)
        with pytest.raises(FetchError, match=r"too many redirects \(more than 3\)") as many:
            fetch(client, server.url("/hop0"), limits)
    assert not loop.value.transient
    assert not many.value.transient
    assert server.hits("/hop4") == []


def test_redirect_to_non_http_scheme_is_refused(server: ScenarioServer) -> None:
    server.redirect("/go", "file:///etc/passwd")
    with pytest.raises(FetchError, match="only http and https"):
        fetch_bytes(server.url("/go"), LOCAL)
    with pytest.raises(FetchError, match="only http and https"):
        fetch_bytes("ftp://127.0.0.1/x", LOCAL)


def test_credentials_are_not_forwarded_across_origins(
    server: ScenarioServer, other_server: ScenarioServer
) -> None:
    server.redirect("/same", "/landing")
    server.html("/landing", "ok")
    server.redirect("/cross", other_server.url("/landing"))
    other_server.html("/landing", "ok")
    secrets = {"Authorization": "Bearer s3cret", "Cookie": "session=abc"}
    with make_client(LOCAL) as client:
        fetch(client, server.url("/same"), FetchLimits.from_settings(LOCAL), headers=secrets)
        fetch(client, server.url("/cross"), FetchLimits.from_settings(LOCAL), headers=secrets)
    same = server.hits("/landing")[0].headers
    assert same["authorization"] == "Bearer s3cret"
    assert same["cookie"] == "session=abc"
    cross = other_server.hits("/landing")[0].headers
    assert "authorization" not in cross
    assert "cookie" not in cross


def test_cookies_set_by_a_server_are_not_remembered(server: ScenarioServer) -> None:
    server.routes["/set"] = lambda h: h.send_body(
        302, b"", None, {"Location": "/after", "Set-Cookie": "track=1; Path=/"}
    )
    server.html("/after", "ok")
    fetch_bytes(server.url("/set"), LOCAL)
    assert "cookie" not in server.hits("/after")[0].headers


def _drip(handler: ScenarioHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    for _ in range(100):
        handler.wfile.write(b"x")
        handler.wfile.flush()
        time.sleep(0.1)


def test_slow_drip_body_hits_the_total_deadline_sync(server: ScenarioServer) -> None:
    server.routes["/drip"] = _drip
    settings = Settings(allow_private_networks=True, request_timeout=1.0)
    started = time.monotonic()
    with pytest.raises(FetchError, match="timeout") as caught:
        fetch_bytes(server.url("/drip"), settings)
    assert caught.value.transient
    assert time.monotonic() - started < 3.5  # deadline + at most one read timeout


def test_slow_drip_body_hits_the_total_deadline_async(server: ScenarioServer) -> None:
    server.routes["/drip"] = _drip
    settings = Settings(allow_private_networks=True, request_timeout=1.0)

    async def run() -> float:
        async with make_async_client(settings) as client:
            started = time.monotonic()
            with pytest.raises(FetchError, match="timeout"):
                await fetch_async(client, server.url("/drip"), FetchLimits.from_settings(settings))
            return time.monotonic() - started

    assert asyncio.run(run()) < 2.5  # the drip alone would take 10 s


def _bomb_route(body: bytes, encoding: str) -> object:
    def route(handler: ScenarioHandler) -> None:
        handler.send_body(200, body, "text/html", {"Content-Encoding": encoding})

    return route


@pytest.mark.parametrize(("encoding", "make"), [("gzip", gzip_bomb), ("br", brotli_bomb)])
def test_compression_bomb_is_stopped_with_bounded_memory(
    server: ScenarioServer, encoding: str, make: object
) -> None:
    assert callable(make)
    bomb = make(256 * 1024 * 1024)  # 256 MiB of zeros once decompressed
    assert len(bomb) < 1024 * 1024
    server.routes["/bomb"] = _bomb_route(bomb, encoding)  # type: ignore[assignment]
    settings = Settings(allow_private_networks=True, max_body_bytes=2 * 1024 * 1024)
    tracemalloc.start()
    try:
        with pytest.raises(FetchError, match="body larger than 2 MiB"):
            fetch_bytes(server.url("/bomb"), settings)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024


def test_huge_content_length_is_refused_before_reading(server: ScenarioServer) -> None:
    def huge(handler: ScenarioHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Content-Length", str(50 * 1024**3))
        handler.end_headers()
        handler.wfile.write(b"<html>")
        handler.wfile.flush()
        time.sleep(3)  # never sends the rest

    server.routes["/huge"] = huge
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"body larger than 10 MiB \(Content-Length 53687091200\)"):
        fetch_bytes(server.url("/huge"), LOCAL)
    assert time.monotonic() - started < 2.5  # the server would hold the body back for 3 s


def test_http_errors_carry_status_and_transience(server: ScenarioServer) -> None:
    server.html("/missing", "no", status=404)
    server.html("/busy", "later", status=503, headers={"Retry-After": "7"})
    with pytest.raises(FetchError) as missing:
        fetch_bytes(server.url("/missing"), LOCAL)
    assert (missing.value.reason, missing.value.transient) == ("HTTP 404", False)
    with pytest.raises(FetchError) as busy:
        fetch_bytes(server.url("/busy"), LOCAL)
    assert (busy.value.reason, busy.value.transient, busy.value.retry_after) == (
        "HTTP 503",
        True,
        7.0,
    )


def test_connection_refused_is_transient() -> None:
    with running_server() as gone:
        url = gone.url("/")
    with pytest.raises(FetchError, match="connection failed") as caught:
        fetch_bytes(url, LOCAL)
    assert caught.value.transient


def test_async_client_refuses_metadata_redirect_target(server: ScenarioServer) -> None:
    server.redirect("/go", "http://metadata.example.com/latest/")
    resolver = RecordingResolver({"metadata.example.com": ["::ffff:169.254.169.254"]})
    backend = AsyncRecordingBackend()

    async def run() -> None:
        async with make_async_client(LOCAL, resolver=resolver, network_backend=backend) as c:
            with pytest.raises(AddressRefusedError, match="IPv4-mapped form of the cloud"):
                await fetch_async(c, server.url("/go"), FetchLimits.from_settings(LOCAL))

    asyncio.run(run())
    assert resolver.lookups == ["metadata.example.com"]
    assert backend.connects == [("127.0.0.1", server.port)]


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1]:9/",
        "http://2130706433:9/",
        "http://0x7f000001:9/",
        "http://127.1:9/",
        "http://[::ffff:127.0.0.1]:9/",
    ],
)
def test_obfuscated_loopback_forms_are_refused_without_connecting(url: str) -> None:
    backend = RecordingBackend()
    with (
        make_client(Settings(), network_backend=backend) as client,
        pytest.raises(AddressRefusedError, match="loopback"),
    ):
        fetch(client, url, FetchLimits.from_settings(Settings()))
    assert backend.connects == []


@pytest.mark.parametrize("answer", ["64:ff9b:1::a9fe:a9fe", "::ffff:0:a9fe:a9fe"])
def test_names_resolving_to_nat64_or_siit_metadata_are_never_dialled(answer: str) -> None:
    resolver = RecordingResolver({"imds.example.com": [answer]})
    backend = RecordingBackend()
    async_backend = AsyncRecordingBackend()
    with (
        make_client(LOCAL, resolver=resolver, network_backend=backend) as client,
        pytest.raises(AddressRefusedError, match="form of the cloud metadata"),
    ):
        fetch(client, "http://imds.example.com/latest/", FetchLimits.from_settings(LOCAL))

    async def run() -> None:
        async with make_async_client(LOCAL, resolver=resolver, network_backend=async_backend) as c:
            with pytest.raises(AddressRefusedError, match="form of the cloud metadata"):
                await fetch_async(c, "http://imds.example.com/", FetchLimits.from_settings(LOCAL))

    asyncio.run(run())
    assert backend.connects == []
    assert async_backend.connects == []
    assert resolver.lookups == ["imds.example.com", "imds.example.com"]
