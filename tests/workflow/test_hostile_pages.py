"""Nothing sinks a neighbour (issue 11), through the synthesized state machine on the local
engine: any mix of hostile pages, in any batch size, inline and distributed, leaves every good
page `ok`, every bad page `failed` with its reason, each page exactly once, no traceback.

The hostile site is a real server on 127.0.0.41; each bad behaviour is one path family."""

from __future__ import annotations

import gzip
import socket
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.lambdas.crawl_support import ScenarioHandler, ScenarioServer, running_server
from tests.workflow.conftest import Crawl

Route = Callable[[ScenarioHandler], None]


def raw(data: bytes) -> Route:
    def send(handler: ScenarioHandler) -> None:
        handler.wfile.write(data)
        handler.wfile.flush()
        handler.close_connection = True

    return send


def stacked_gzip(layers: int) -> bytes:
    body = b"<title>deep</title>"
    for _ in range(layers):
        body = gzip.compress(body, compresslevel=1)
    return body


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens there once closed


LAYERS = stacked_gzip(1200)
GOOD: dict[str, Route] = {
    "plain": lambda h: h.send_body(200, b"<title>good</title><h1>ok</h1>"),
    "unknown-charset": lambda h: h.send_body(
        200, b"<title>rot</title>", "text/html; charset=rot13"
    ),
    "not-html": lambda h: h.send_body(200, b"%PDF-1.4 ...", "application/pdf"),
}
BAD: dict[str, Route] = {
    "bad-port-redirect": lambda h: h.send_body(
        302, b"", None, {"Location": "http://127.0.0.41:99999/x"}
    ),
    "malformed-location": lambda h: h.send_body(302, b"", None, {"Location": "http://[::1/x"}),
    "gzip-1200-layers": lambda h: h.send_body(
        200, LAYERS, "text/html", {"Content-Encoding": ", ".join(["gzip"] * 1200)}
    ),
    "header-150k": lambda h: h.send_body(
        200, b"<title>x</title>", "text/html", {"X-Big": "a" * 150_000}
    ),
    "garbage-status": raw(b"HTTP/1.1 abc nonsense\r\n\r\n"),
    "hang-up": raw(b""),
    "too-big": lambda h: h.send_body(
        200, b"", "text/html", {"Content-Length": str(50 * 1024 * 1024)}
    ),
    "not-found": lambda h: h.send_body(404, b"gone"),
    "redirect-loop": lambda h: h.send_body(302, b"", None, {"Location": h.path}),
    "unreachable-redirect": lambda h: h.send_body(
        302, b"", None, {"Location": f"http://127.0.0.1:{UNREACHABLE}/"}
    ),
}
UNREACHABLE = closed_port()


@pytest.fixture(scope="module")
def hostile() -> Iterator[ScenarioServer]:
    with running_server("127.0.0.41") as server:
        server.html("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
        yield server


def pages_for(server: ScenarioServer, kinds: list[str], prefix: str) -> dict[str, str]:
    """url -> kind, one distinct path per page (a fresh prefix per example: nothing cached)."""
    urls: dict[str, str] = {}
    for n, kind in enumerate(kinds):
        path = f"/{prefix}/{kind}/{n}"
        server.routes[path] = {**GOOD, **BAD}[kind]
        urls[server.url(path)] = kind
    return urls


EXAMPLES = iter(range(10**6))


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    good=st.lists(st.sampled_from(sorted(GOOD)), min_size=6, max_size=30),
    bad=st.lists(st.sampled_from(sorted(BAD)), min_size=1, max_size=5),
    batch_size=st.sampled_from([1, 10, 100]),
    distributed=st.booleans(),
)
def test_any_mix_of_hostile_pages_fails_only_themselves(
    crawl: Crawl,
    hostile: ScenarioServer,
    good: list[str],
    bad: list[str],
    batch_size: int,
    distributed: bool,
) -> None:
    kinds = good + bad
    urls = pages_for(hostile, kinds, f"mix{next(EXAMPLES)}")
    payload: dict[str, object] = {"pages": list(urls), "batch_size": batch_size}
    if distributed:
        payload["distributed_threshold"] = 0
    record = crawl(payload)

    by_url = {r["url"]: r for r in record.results}
    assert sorted(by_url) == sorted(urls)  # every page exactly once
    for url, kind in urls.items():
        result = by_url[url]
        if kind in GOOD:
            assert result["ok"] is True, (kind, result)
            assert result["outcome"] == "new", (kind, result)
        else:
            assert result["outcome"] == "failed", (kind, result)
            assert isinstance(result["error"], str), (kind, result)
            assert result["error"], (kind, result)
            assert "Traceback" not in result["error"]
    assert record.status == "SUCCEEDED", (record.error, record.cause)  # bad pages < ratio
    logs = (record.run_dir / "logs.txt").read_text(encoding="utf-8")
    assert "Traceback" not in logs


@pytest.mark.parametrize("distributed", [False, True])
def test_results_of_the_longest_urls_at_the_largest_batch_fit(
    crawl: Crawl, hostile: ScenarioServer, distributed: bool
) -> None:
    # 2,083 characters is the longest URL crawlmap accepts; 100 is the largest batch.
    base = hostile.url("/long/")
    urls = []
    for n in range(200):
        path = f"/long/{n}-" + "x" * (2083 - len(base) - len(f"{n}-"))
        hostile.routes[path] = GOOD["plain"]
        urls.append(hostile.url(path))
    assert all(len(url) == 2083 for url in urls)
    payload: dict[str, object] = {"pages": urls, "batch_size": 100}
    if distributed:
        payload["distributed_threshold"] = 0
    record = crawl(payload)
    assert record.status == "SUCCEEDED", (record.error, record.cause)
    assert sorted(r["url"] for r in record.results) == sorted(urls)
    assert all(r["ok"] for r in record.results), {r["error"] for r in record.results}


@pytest.mark.parametrize(
    ("kind", "route"),
    [
        (
            "retry-after-3600",
            lambda h: h.send_body(503, b"busy", "text/plain", {"Retry-After": "3600"}),
        ),
        ("header-150k", BAD["header-150k"]),
        ("malformed-location", BAD["malformed-location"]),
    ],
)
def test_a_page_that_cannot_succeed_soon_is_asked_once(
    crawl: Crawl, hostile: ScenarioServer, kind: str, route: Route
) -> None:
    # batch_size 1: Step Functions' Retry would ask again within seconds; a permanent error, or
    # a Retry-After longer than every retry's wait together, must not be asked again.
    path = f"/once/{kind}"
    hostile.routes[path] = route
    good = hostile.url("/once/good")
    hostile.routes["/once/good"] = GOOD["plain"]
    record = crawl({"pages": [hostile.url(path), good, good + "?2"], "batch_size": 1})
    by_url = {r["url"]: r for r in record.results}
    assert by_url[hostile.url(path)]["outcome"] == "failed"
    assert by_url[hostile.url(path)]["error"]
    assert len(hostile.hits(path)) == 1
