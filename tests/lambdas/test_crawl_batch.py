"""CrawlBatch against a real HTTP server on 127.0.0.1 with scenario endpoints.

Most tests set allow_private_networks=True because the server is on loopback; the tests
about the guard use the default (refused) or an injected resolver + recording backend.
"""

import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from lambdas.common import env
from lambdas.common.errors import ConfigError, InvalidInputError, TransientCrawlError
from lambdas.common.models import PageTask, PreviousState
from lambdas.common.settings import Settings
from lambdas.crawl_batch.core import CrawlOptions, crawl_batch
from lambdas.crawl_batch.event import parse_event
from lambdas.crawl_batch.handler import handler
from tests.lambdas.crawl_support import (
    AsyncRecordingBackend,
    RecordingResolver,
    ScenarioHandler,
    ScenarioServer,
    gzip_bomb,
    running_server,
)

LOCAL = Settings(allow_private_networks=True, request_timeout=3.0)
_RUN_IDS = itertools.count()
HTML = "<html><head><title>{title}</title></head><body><h1>{title}</h1><p>{text}</p></body></html>"


@pytest.fixture
def server() -> Iterator[ScenarioServer]:
    with running_server() as s:
        yield s


def page(title: str, text: str = "some words here") -> str:
    return HTML.format(title=title, text=text)


def crawl(
    server: ScenarioServer,
    paths: list[str],
    settings: Settings = LOCAL,
    *,
    previous: dict[str, PreviousState] | None = None,
    retry_count: int | None = None,
    options: CrawlOptions | None = None,
    run_id: str | None = None,
) -> list[dict[str, Any]]:
    event: dict[str, Any] = {
        "run_id": run_id or f"run-{next(_RUN_IDS)}",  # host notes are per run: one run per call
        "batch_id": 3,
        "pages": [PageTask(url=server.url(p), previous=(previous or {}).get(p)) for p in paths],
    }
    if retry_count is not None:
        event["retry_count"] = retry_count
    result = crawl_batch(parse_event(event), settings, options)
    assert result["batch_id"] == 3
    return [dict(r) for r in result["results"]]


def state_of(result: dict[str, Any]) -> PreviousState:
    return PreviousState(
        etag=result["etag"],
        last_modified=result["last_modified"],
        content_hash=result["content_hash"],
    )


# ------------------------------------------------------------------------ basics and shape


def test_pages_come_back_once_each_in_input_order(server: ScenarioServer) -> None:
    for n in range(12):
        if n % 4 == 3:
            server.html(f"/p{n}", "gone", status=410)
        else:
            server.html(f"/p{n}", page(f"Page {n}"))
    paths = [f"/p{n}" for n in reversed(range(12))]
    results = crawl(server, paths)
    assert [r["url"] for r in results] == [server.url(p) for p in paths]
    assert [r["title"] for r in results if r["ok"]] == [
        f"Page {n}" for n in reversed(range(12)) if n % 4 != 3
    ]
    assert {r["error"] for r in results if not r["ok"]} == {"HTTP 410"}


def test_successful_page_record(server: ScenarioServer) -> None:
    server.html(
        "/",
        '<html><head><title>Home</title><meta name="description" content="Welcome">'
        '<link rel="canonical" href="/"></head><body><h1>Hello</h1>'
        '<a href="/a">a</a><a href="/b">b</a></body></html>',
        headers={"ETag": '"abc"', "Last-Modified": "Wed, 21 Oct 2015 07:28:00 GMT"},
    )
    [result] = crawl(server, ["/"], retry_count=1)
    assert result["ok"] is True
    assert result["outcome"] == "new"
    assert result["status"] == 200
    assert result["final_url"] == server.url("/")
    assert result["attempts"] == 2  # one Step Functions retry already made + this one
    assert (result["title"], result["description"], result["h1"]) == ("Home", "Welcome", "Hello")
    assert result["canonical"] == server.url("/")
    assert (result["links"], result["content_type"]) == (2, "text/html")
    assert (result["etag"], result["last_modified"]) == ('"abc"', "Wed, 21 Oct 2015 07:28:00 GMT")
    assert result["fetched_at"] is not None
    assert server.hits("/")[0].headers["user-agent"] == LOCAL.user_agent


def test_user_agent_is_configurable(server: ScenarioServer) -> None:
    server.html("/", page("x"))
    ua = "examplebot/2.0 (+https://example.com/bot)"
    crawl(server, ["/"], replace(LOCAL, user_agent=ua))
    assert server.hits("/")[0].headers["user-agent"] == ua
    assert server.hits("/robots.txt")[0].headers["user-agent"] == ua


def test_non_html_is_recorded_not_parsed(server: ScenarioServer) -> None:
    server.html("/doc.pdf", b"%PDF-1.7 <title>not html</title>", content_type="application/pdf")
    [result] = crawl(server, ["/doc.pdf"], replace(LOCAL, selectors={"t": "title"}))
    assert result["ok"] is True
    assert (result["content_type"], result["bytes"]) == ("application/pdf", 32)
    assert result["title"] is None
    assert result["words"] is None
    assert result["extracted"] == {"t": None}
    assert result["content_hash"] is not None


def test_configured_selectors_are_extracted(server: ScenarioServer) -> None:
    server.html(
        "/product",
        '<html><body><span class="price">9.99</span><img id="hero" src="/h.png"></body></html>',
    )
    settings = replace(LOCAL, selectors={"price": ".price", "hero": "#hero@src", "x": "table"})
    [result] = crawl(server, ["/product"], settings)
    assert result["extracted"] == {"price": "9.99", "hero": "/h.png", "x": None}


def test_invalid_selector_fails_the_batch_with_a_config_error(server: ScenarioServer) -> None:
    with pytest.raises(ConfigError, match=r"CRAWLMAP_SELECTORS\.bad"):
        crawl(server, ["/"], replace(LOCAL, selectors={"bad": "p[[["}))


def test_charsets_over_http(server: ScenarioServer) -> None:
    russian = "<p>Привет, мир</p>"
    server.html("/header", russian.encode("cp1251"), content_type="text/html; charset=windows-1251")
    server.html(
        "/meta",
        ('<meta charset="windows-1251"><title>Привет</title>' + russian).encode("cp1251"),
        content_type="text/html",
    )
    server.html("/bom", b"\xef\xbb\xbf<title>caf\xc3\xa9</title>", content_type="text/html")
    server.html(
        "/wrong",
        '<meta charset="iso-8859-1"><title>café</title>'.encode("cp1252"),
        content_type="text/html; charset=utf-8",
    )
    settings = replace(LOCAL, selectors={"p": "p"})
    results = {r["url"]: r for r in crawl(server, ["/header", "/meta", "/bom", "/wrong"], settings)}
    assert results[server.url("/header")]["extracted"]["p"] == "Привет, мир"
    assert results[server.url("/meta")]["title"] == "Привет"
    assert results[server.url("/bom")]["title"] == "café"
    assert results[server.url("/wrong")]["title"] == "café"


def test_redirects_are_followed_and_recorded(server: ScenarioServer) -> None:
    server.redirect("/old", "/older", 301)
    server.redirect("/older", "/new", 302)
    server.html("/new", page("New"))
    server.redirect("/loop", "/loop2")
    server.redirect("/loop2", "/loop")
    results = crawl(server, ["/old", "/loop"])
    assert results[0]["final_url"] == server.url("/new")
    assert results[0]["redirects"] == 2
    assert results[0]["title"] == "New"
    assert results[1]["ok"] is False
    assert results[1]["error"].startswith("redirect loop")


# ------------------------------------------------------------------------ safety


def test_loopback_is_a_failed_record_by_default_and_nothing_is_requested(
    server: ScenarioServer,
) -> None:
    server.html("/", page("secret"))
    results = crawl(server, ["/", "/other"], Settings())
    assert [r["error"] for r in results] == ["refused: 127.0.0.1 is a loopback address"] * 2
    assert all(r["outcome"] == "failed" for r in results)
    assert server.seen == []


def test_loopback_refusal_on_a_one_page_batch_is_permanent_not_transient(
    server: ScenarioServer,
) -> None:
    [result] = crawl(server, ["/"], Settings())
    assert result["outcome"] == "failed"
    assert result["error"].startswith("refused:")


def test_redirect_to_metadata_is_refused_without_leaving_loopback(server: ScenarioServer) -> None:
    server.redirect("/go", "http://instance-data.example.com/latest/meta-data/iam/")
    server.html("/robots.txt", "", content_type="text/plain")
    resolver = RecordingResolver({"instance-data.example.com": ["169.254.169.254"]})
    backend = AsyncRecordingBackend()
    options = CrawlOptions(resolver=resolver, network_backend=backend)
    [result] = crawl(server, ["/go"], options=options)
    assert result["outcome"] == "failed"
    assert result["error"] == "refused: 169.254.169.254 is the cloud metadata address"
    assert {host for host, _ in backend.connects} == {"127.0.0.1"}
    # Looked up for its robots.txt and for the page; refused both times before any connect.
    assert set(resolver.lookups) == {"instance-data.example.com"}


def test_compression_bomb_fails_cleanly(server: ScenarioServer) -> None:
    bomb = gzip_bomb(64 * 1024 * 1024)
    server.routes["/bomb"] = lambda h: h.send_body(
        200, bomb, "text/html", {"Content-Encoding": "gzip"}
    )
    server.html("/fine", page("fine"))
    results = crawl(server, ["/bomb", "/fine"], replace(LOCAL, max_body_bytes=1024 * 1024))
    assert results[0]["error"] == "body larger than 1 MiB"
    assert results[0]["attempts"] == 1  # permanent: not retried
    assert results[1]["ok"] is True


def test_slow_drip_is_cut_by_the_invocation_deadline(server: ScenarioServer) -> None:
    def drip(handler: ScenarioHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Content-Length", "100000")
        handler.end_headers()
        for _ in range(200):
            handler.wfile.write(b"<p>x</p>")
            handler.wfile.flush()
            time.sleep(0.05)

    server.routes["/drip"] = drip
    server.html("/fast", page("fast"))
    settings = replace(LOCAL, request_timeout=60.0)
    started = time.monotonic()
    results = crawl(server, ["/drip", "/fast"], settings, options=CrawlOptions(time_budget_s=1.5))
    assert time.monotonic() - started < 5.0  # the drip alone would take 10 s
    assert results[0]["outcome"] == "failed"
    assert results[0]["error"].startswith("timeout")
    assert results[1]["ok"] is True
    with pytest.raises(TransientCrawlError, match="timeout"):
        crawl(server, ["/drip"], settings, options=CrawlOptions(time_budget_s=1.0))


# ------------------------------------------------------------------------ politeness


def test_robots_disallow_skips_without_fetching(server: ScenarioServer) -> None:
    server.html(
        "/robots.txt",
        "User-agent: *\nDisallow: /private\n\nUser-agent: otherbot\nDisallow: /\n",
        content_type="text/plain",
    )
    server.html("/private/x", page("secret"))
    server.html("/public", page("public"))
    results = crawl(server, ["/private/x", "/public", "/private/y"])
    assert [r["outcome"] for r in results] == ["skipped", "new", "skipped"]
    assert results[0]["error"] == "robots.txt disallows"
    assert results[0]["ok"] is False
    assert server.hits("/private/x") == []
    assert len(server.hits("/robots.txt")) == 1  # once per origin per invocation


def test_robots_of_a_cross_origin_redirect_target_is_obeyed(server: ScenarioServer) -> None:
    with running_server() as other:
        other.html("/robots.txt", "User-agent: *\nDisallow: /private\n", content_type="text/plain")
        other.html("/private", page("secret"))
        other.html("/open", page("open"))
        server.redirect("/to-private", other.url("/private"))
        server.redirect("/to-open", other.url("/open"))
        results = crawl(server, ["/to-private", "/to-open"])
        assert results[0]["outcome"] == "skipped"
        assert results[0]["error"] == (
            f"robots.txt disallows (redirect target {other.url('/private')})"
        )
        assert other.hits("/private") == []
        assert (results[1]["outcome"], results[1]["title"]) == ("new", "open")
        assert len(other.hits("/robots.txt")) == 1


def test_robots_ignored_when_obey_robots_is_off(server: ScenarioServer) -> None:
    server.html("/robots.txt", "User-agent: *\nDisallow: /\n", content_type="text/plain")
    server.html("/", page("home"))
    [result] = crawl(server, ["/"], replace(LOCAL, obey_robots=False))
    assert result["ok"] is True
    assert server.hits("/robots.txt") == []


def test_robots_404_allows_everything(server: ScenarioServer) -> None:
    server.html("/", page("home"))
    [result] = crawl(server, ["/"])
    assert result["outcome"] == "new"
    assert len(server.hits("/robots.txt")) == 1


def test_robots_5xx_disallows_everything_as_failures(server: ScenarioServer) -> None:
    # RFC 9309: no usable robots.txt means complete disallow. The pages were not crawled
    # because of an error, so they are failures (a run against a broken site fails), not skips.
    server.html("/robots.txt", "down", status=503)
    server.html("/", page("home"))
    results = crawl(server, ["/", "/x"])
    assert [r["outcome"] for r in results] == ["failed", "failed"]
    assert results[0]["error"] == "robots.txt unavailable (HTTP 503): not crawled"
    assert server.hits("/") == []


def test_robots_unavailable_in_a_one_page_batch_is_retried_by_step_functions(
    server: ScenarioServer,
) -> None:
    server.html("/robots.txt", "down", status=503)
    server.html("/", page("home"))
    with pytest.raises(TransientCrawlError, match=r"robots\.txt unavailable"):
        crawl(server, ["/"])


def test_a_robots_verdict_from_list_pages_is_used_without_fetching_robots_txt(
    server: ScenarioServer,
) -> None:
    server.html("/robots.txt", "User-agent: *\nDisallow: /\n", content_type="text/plain")
    server.html("/open", page("open"))
    event: dict[str, Any] = {
        "run_id": "run-1",
        "batch_id": 0,
        "pages": [
            {
                "url": server.url("/open"),
                "previous": None,
                "robots": {"allowed": True, "reason": None, "crawl_delay": None},
            },
            {
                "url": server.url("/closed"),
                "previous": None,
                "robots": {"allowed": False, "reason": "robots.txt disallows", "crawl_delay": 1},
            },
        ],
    }
    results = crawl_batch(event, LOCAL)["results"]
    assert [(r["outcome"], r["error"]) for r in results] == [
        ("new", None),
        ("skipped", "robots.txt disallows"),
    ]
    assert server.hits("/robots.txt") == []
    assert server.hits("/closed") == []


def test_a_malformed_robots_verdict_names_the_field() -> None:
    event = {
        "run_id": "r",
        "batch_id": 0,
        "pages": [{"url": "http://a.test/", "previous": None, "robots": {"allowed": "yes"}}],
    }
    with pytest.raises(InvalidInputError, match=r"pages\[0\]\.robots"):
        parse_event(event)


def test_crawl_delay_spaces_requests_up_to_the_cap(server: ScenarioServer) -> None:
    server.html("/robots.txt", "User-agent: *\nCrawl-delay: 0.3\n", content_type="text/plain")
    for n in range(4):
        server.html(f"/{n}", page(str(n)))
    crawl(server, [f"/{n}" for n in range(4)], replace(LOCAL, per_host_concurrency=4))
    starts = sorted(r.at for r in server.seen if r.path != "/robots.txt")
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 0.28

    server.seen.clear()
    server.html("/robots.txt", "User-agent: *\nCrawl-delay: 60\n", content_type="text/plain")
    started = time.monotonic()
    crawl(server, ["/0", "/1", "/2"], replace(LOCAL, max_crawl_delay=0.2))
    assert time.monotonic() - started < 5.0  # capped at 0.2 s, not 60 s


def test_per_host_concurrency_is_respected(server: ScenarioServer) -> None:
    in_flight = 0
    peak = 0
    lock = threading.Lock()

    def slow(handler: ScenarioHandler) -> None:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.15)
        with lock:
            in_flight -= 1
        handler.send_body(200, page("slow").encode())

    for n in range(8):
        server.routes[f"/s{n}"] = slow
    settings = replace(LOCAL, per_host_concurrency=2, obey_robots=False)
    results = crawl(server, [f"/s{n}" for n in range(8)], settings)
    assert all(r["ok"] for r in results)
    assert peak == 2


# ------------------------------------------------------------------------ transient failures


def _flaky(status: int, failures: int, headers: dict[str, str] | None = None) -> Any:
    calls = {"n": 0}

    def route(handler: ScenarioHandler) -> None:
        calls["n"] += 1
        if calls["n"] <= failures:
            handler.send_body(status, b"busy", "text/plain", headers)
        else:
            handler.send_body(200, page("recovered").encode())

    return route


def test_429_with_short_retry_after_is_honoured(server: ScenarioServer) -> None:
    server.routes["/limited"] = _flaky(429, 1, {"Retry-After": "1"})
    server.html("/other", page("other"))
    results = crawl(server, ["/limited", "/other"])
    assert results[0]["ok"] is True
    assert results[0]["attempts"] == 2
    first, second = server.hits("/limited")
    assert second.at - first.at >= 0.95


def test_one_page_batch_honours_short_retry_after_in_handler(server: ScenarioServer) -> None:
    server.routes["/limited"] = _flaky(503, 1, {"Retry-After": "1"})
    [result] = crawl(server, ["/limited"])
    assert (result["ok"], result["attempts"]) == (True, 2)


def test_retry_after_over_the_cap(server: ScenarioServer) -> None:
    # Issue 11: a one-page batch no longer raises for Step Functions to retry within seconds
    # what the server asked to wait minutes for: the page fails with the reason, one request.
    server.routes["/a"] = _flaky(429, 99, {"Retry-After": "120"})
    server.html("/b", page("b"))
    [single] = crawl(server, ["/a"])
    assert (single["outcome"], single["status"]) == ("failed", 429)
    assert single["error"] == "HTTP 429 (Retry-After 120s is over the 30s cap)"
    assert len(server.hits("/a")) == 1
    results = crawl(server, ["/a", "/b"])
    assert results[0]["outcome"] == "failed"
    assert results[0]["status"] == 429
    assert results[0]["error"] == "HTTP 429 (Retry-After 120s is over the 30s cap)"


def test_retry_after_longer_than_the_invocation_can_wait(server: ScenarioServer) -> None:
    # Within what Step Functions' retries wait in total: raised for them to retry later.
    server.routes["/a"] = _flaky(503, 99, {"Retry-After": "10"})
    with pytest.raises(TransientCrawlError, match=r"/a: HTTP 503$"):
        crawl(server, ["/a"], options=CrawlOptions(time_budget_s=5.0))
    # Longer than that: failed with the reason, not raised (issue 11: no retries within 2 s).
    server.routes["/b"] = _flaky(503, 99, {"Retry-After": "20"})
    [result] = crawl(server, ["/b"], options=CrawlOptions(time_budget_s=5.0))
    assert result["error"] == "HTTP 503 (Retry-After 20s is longer than this invocation can wait)"
    assert len(server.hits("/b")) == 1


def test_the_error_step_functions_catches_counts_its_retries(server: ScenarioServer) -> None:
    server.routes["/down"] = _flaky(500, 99)
    with pytest.raises(TransientCrawlError, match=r"/down: HTTP 500$") as caught:
        crawl(server, ["/down"], retry_count=3)
    assert caught.value.attempt == 4  # a field, not "(attempt 4)" in the message (issue 9)


def test_one_page_transient_failure_raises_for_step_functions(server: ScenarioServer) -> None:
    server.routes["/flaky"] = _flaky(502, 1)
    with pytest.raises(TransientCrawlError, match=r"/flaky: HTTP 502$") as caught:
        crawl(server, ["/flaky"])
    assert caught.value.attempt == 1
    assert len(server.hits("/flaky")) == 1  # no retry here: Step Functions retries visibly
    [result] = crawl(server, ["/flaky"], retry_count=1)  # what the Retry then sees
    assert (result["ok"], result["attempts"]) == (True, 2)


def test_one_page_connection_failure_raises_transient() -> None:
    with running_server() as gone:
        url = gone.url("/")
    event = parse_event({"run_id": "r", "batch_id": 0, "pages": [{"url": url, "previous": None}]})
    with pytest.raises(TransientCrawlError, match="connection failed"):
        crawl_batch(event, replace(LOCAL, obey_robots=False))


def test_multi_page_transient_is_retried_in_handler(server: ScenarioServer) -> None:
    server.routes["/flaky"] = _flaky(500, 2)
    server.routes["/down"] = _flaky(503, 99)
    server.html("/ok", page("ok"))
    results = crawl(server, ["/flaky", "/down", "/ok"], retry_count=0)
    assert (results[0]["ok"], results[0]["attempts"]) == (True, 3)
    assert results[1]["outcome"] == "failed"
    assert results[1]["error"] == "HTTP 503 (after 3 attempts)"
    assert results[1]["attempts"] == 3
    assert len(server.hits("/down")) == 3
    assert results[2]["attempts"] == 1


# ------------------------------------------------------------------------ incremental


def test_validators_give_304_unchanged(server: ScenarioServer) -> None:
    def conditional(handler: ScenarioHandler) -> None:
        if handler.headers.get("If-None-Match") == '"v1"':
            handler.send_body(304, b"", None, {"ETag": '"v1"'})
        else:
            handler.send_body(200, page("Versioned").encode(), headers={"ETag": '"v1"'})

    server.routes["/v"] = conditional
    [first] = crawl(server, ["/v"])
    assert (first["outcome"], first["etag"]) == ("new", '"v1"')
    [second] = crawl(server, ["/v"], previous={"/v": state_of(first)})
    assert (second["outcome"], second["status"], second["ok"]) == ("unchanged", 304, True)
    assert second["content_hash"] == first["content_hash"]
    assert second["etag"] == '"v1"'
    assert server.hits("/v")[1].headers["if-none-match"] == '"v1"'


def test_last_modified_is_sent_as_if_modified_since(server: ScenarioServer) -> None:
    stamp = "Wed, 21 Oct 2015 07:28:00 GMT"

    def conditional(handler: ScenarioHandler) -> None:
        if handler.headers.get("If-Modified-Since") == stamp:
            handler.send_body(304, b"", None)
        else:
            handler.send_body(200, page("Dated").encode(), headers={"Last-Modified": stamp})

    server.routes["/d"] = conditional
    [first] = crawl(server, ["/d"])
    [second] = crawl(server, ["/d"], previous={"/d": state_of(first)})
    assert second["outcome"] == "unchanged"
    assert second["last_modified"] == stamp


def test_content_hash_decides_without_validators(server: ScenarioServer) -> None:
    server.html("/same", page("Same", "stable text"))
    server.html("/edit", page("Edit", "first version"))
    first = {r["url"]: r for r in crawl(server, ["/same", "/edit"])}
    server.html("/same", page("Same", "stable text").replace("<p>", '<p class="new-style">'))
    server.html("/edit", page("Edit", "second version"))
    previous = {p: state_of(first[server.url(p)]) for p in ("/same", "/edit")}
    second = crawl(server, ["/same", "/edit"], previous=previous)
    assert [r["outcome"] for r in second] == ["unchanged", "changed"]
    assert all(r["ok"] for r in second)


# ------------------------------------------------------------------------ the handler


class FakeLambdaContext:
    function_name = "CrawlBatch"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:CrawlBatch"
    aws_request_id = "req-1"

    def __init__(self, remaining_ms: int) -> None:
        self._remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining_ms


def test_handler_crawls_with_settings_from_the_environment(
    server: ScenarioServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(env.ALLOW_PRIVATE_NETWORKS, "true")
    monkeypatch.setenv(env.SELECTORS, '{"heading": "h1"}')
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    server.html("/", page("Handled"))
    event = {
        "run_id": "exec-7",
        "batch_id": 0,
        "pages": [{"url": server.url("/"), "previous": None}],
        "retry_count": 0,
    }
    output = handler(event, FakeLambdaContext(60_000))
    assert output["batch_id"] == 0
    [result] = output["results"]
    assert (result["outcome"], result["extracted"]) == ("new", {"heading": "Handled"})


def test_handler_default_refuses_loopback(
    server: ScenarioServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(env.ALLOW_PRIVATE_NETWORKS, raising=False)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    event = {"run_id": "r", "batch_id": 1, "pages": [{"url": server.url("/"), "previous": None}]}
    [result] = handler(event, FakeLambdaContext(60_000))["results"]
    assert result["error"] == "refused: 127.0.0.1 is a loopback address"


def test_handler_is_safe_to_run_in_parallel_threads(
    server: ScenarioServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The local engine runs CrawlBatch invocations in threads of one process."""
    monkeypatch.setenv(env.ALLOW_PRIVATE_NETWORKS, "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    for n in range(16):
        server.html(f"/t{n}", page(f"T{n}"))
    outputs: dict[int, Any] = {}
    errors: list[BaseException] = []

    def invoke(batch_id: int) -> None:
        pages = [{"url": server.url(f"/t{batch_id * 2 + k}"), "previous": None} for k in (0, 1)]
        try:
            outputs[batch_id] = handler(
                {"run_id": "par", "batch_id": batch_id, "pages": pages}, FakeLambdaContext(60_000)
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=invoke, args=(b,)) for b in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    for batch_id, output in outputs.items():
        titles = [r["title"] for r in output["results"]]
        assert titles == [f"T{batch_id * 2}", f"T{batch_id * 2 + 1}"]
    assert len(outputs) == 8


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ([], "event: must be an object, got list"),
        ({"batch_id": 0, "pages": []}, "run_id: must be a non-empty string"),
        ({"run_id": "r", "batch_id": "0", "pages": []}, "batch_id: must be a whole number >= 0"),
        ({"run_id": "r", "batch_id": 0, "pages": []}, "pages: must be a non-empty list"),
        (
            {"run_id": "r", "batch_id": 0, "pages": [{"url": "https://a/"}, {"url": "ftp://b/"}]},
            "pages[1].url: must be an http or https URL",
        ),
        (
            {"run_id": "r", "batch_id": 0, "pages": [{"url": "https://a/", "previous": 3}]},
            "pages[0].previous: must be an object or null",
        ),
        (
            {
                "run_id": "r",
                "batch_id": 0,
                "pages": [{"url": "https://a/", "previous": {"etag": 5}}],
            },
            "pages[0].previous.etag: must be a string or null",
        ),
        (
            {"run_id": "r", "batch_id": 0, "pages": [{"url": "https://a/"}], "retry_count": -1},
            "retry_count: must be a whole number >= 0",
        ),
    ],
)
def test_bad_events_name_the_field(event: Any, message: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        handler(event, FakeLambdaContext(60_000))
    assert str(caught.value).startswith(message)
