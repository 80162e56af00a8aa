"""Property: hostile sitemaps and robots.txt never sink ListPages (hypothesis, real HTTP).

Four real HTTP servers on 127.0.0.2-5 (one origin each) serve a generated mix of good and
hostile sitemap entries, child sitemaps and robots.txt behaviours. Whatever the mix, ListPages
lists every good page exactly once and counts every bad entry or child sitemap in
run.source_problems; the only exception it may raise is InvalidInputError, when the top-level
sitemap cannot be read or yields no page at all. Robots.txt answers apply to their own origin
only (RFC 9309): rules -> verdicts, 4xx -> allow all, 5xx or no usable answer -> no verdict
(CrawlBatch then reads it and fails those pages with the reason).
"""

from __future__ import annotations

import gzip
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from lambdas.common.errors import InvalidInputError
from lambdas.common.models import ListPagesOutput
from lambdas.common.settings import Settings
from lambdas.common.store import SQLiteStore
from lambdas.list_pages.listing import ListingContext, list_pages
from lambdas.list_pages.robots_check import robots_checker
from lambdas.list_pages.sources import S3Objects, safe_http_fetcher
from tests.lambdas.crawl_support import Route, ScenarioHandler, ScenarioServer, running_server

NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
ADDRESSES = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
SETTINGS = Settings(allow_private_networks=True, request_timeout=3.0, max_pages=5000)

# ---------------------------------------------------------------- hostile HTTP behaviours


def drop_connection(handler: ScenarioHandler) -> None:
    handler.close_connection = True  # no response at all


def malformed_headers(handler: ScenarioHandler) -> None:
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: zz\r\nX\x00: \xff\r\n\r\nbody")
    handler.close_connection = True


def stacked_encodings(handler: ScenarioHandler) -> None:
    handler.send_body(200, b"x", "text/plain", {"Content-Encoding": ", ".join(["gzip"] * 1200)})


def redirect_to_bad_port(handler: ScenarioHandler) -> None:
    handler.send_body(302, b"", None, {"Location": "http://127.0.0.1:99999/robots.txt"})


def redirect_to_garbage(handler: ScenarioHandler) -> None:
    handler.send_body(301, b"", None, {"Location": "http://[zz/\x7f"})


def status(code: int, body: bytes = b"") -> Route:
    return lambda handler: handler.send_body(code, body, "text/plain")


# robots.txt behaviour -> (route or None for a 404, what ListPages must make of it)
# "rules": a verdict per page; "allow": verdicts that allow all; "none": no verdict;
# "any": hostile, the verdicts may be present or not but never break the run.
ROBOTS: dict[str, tuple[Route | None, str]] = {
    "rules": (status(200, b"User-agent: *\nDisallow: /private/\n"), "rules"),
    "missing": (None, "allow"),
    "gone": (status(410, b"gone"), "allow"),
    "server error": (status(503, b"down"), "none"),
    "too many requests": (status(429, b"slow down"), "none"),
    "dropped": (drop_connection, "none"),
    "bad port redirect": (redirect_to_bad_port, "none"),
    "garbage redirect": (redirect_to_garbage, "none"),
    "malformed headers": (malformed_headers, "none"),
    "stacked encodings": (stacked_encodings, "none"),
    "garbage": (status(200, bytes(range(256)) * 40), "any"),
    "huge": (status(200, b"User-agent: *\nDisallow: /private/\n" + b"#" * 700_000), "any"),
}

# bad <loc> values: each is a counted problem, never a page
BAD_LOCS = [
    "javascript:alert(1)",
    "mailto:someone@a.test",
    "not a url",
    "/relative/path",
    "http://",
    "https://user:pw@a.test/",
    "http://a.test:99999/",
    "https://a.test/" + "x" * 2100,
    "http://[zz/",
    "ftp://a.test/file",
    "",
]

# child sitemap behaviour: each hostile one is one counted problem (its entries are not read)
CHILD_HOSTILE = [
    "dead",
    "server error",
    "malformed",
    "doctype",
    "bad gzip",
    "nested index",
    "dropped",
    "html",
]


@dataclass
class Servers:
    servers: list[ScenarioServer]
    tmp: Path
    examples: Iterator[int] = field(default_factory=itertools.count)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    with (
        running_server(ADDRESSES[0]) as a,
        running_server(ADDRESSES[1]) as b,
        running_server(ADDRESSES[2]) as c,
        running_server(ADDRESSES[3]) as d,
    ):
        yield Servers([a, b, c, d], tmp_path_factory.mktemp("hostile"))


# ---------------------------------------------------------------- generated sites

entry = st.one_of(
    st.tuples(st.just("good"), st.integers(0, 3), st.booleans()),  # origin, under /private/
    st.tuples(st.just("dup"), st.integers(0, 3), st.booleans()),  # a good page listed again
    st.tuples(st.just("bad"), st.sampled_from(BAD_LOCS), st.just(False)),
)
child = st.one_of(
    st.tuples(st.just("urlset"), st.lists(entry, max_size=8), st.booleans()),  # gzipped?
    st.tuples(st.sampled_from(CHILD_HOSTILE), st.just([]), st.just(False)),
    st.tuples(st.just("bad loc"), st.just([]), st.sampled_from(BAD_LOCS)),
)
top = st.one_of(
    st.tuples(st.just("urlset"), st.lists(entry, max_size=12)),
    st.tuples(st.just("index"), st.lists(child, max_size=6)),
    st.tuples(st.sampled_from(["dead", "malformed", "nested index"]), st.just([])),
)
robots_behaviours = st.lists(st.sampled_from(sorted(ROBOTS)), min_size=4, max_size=4)


def urlset(locs: list[str]) -> bytes:
    body = "".join(f"<url><loc>{escape(loc)}</loc></url>" for loc in locs)
    return f'<?xml version="1.0"?><urlset xmlns="{NS}">{body}</urlset>'.encode()


def index(locs: list[str]) -> bytes:
    body = "".join(f"<sitemap><loc>{escape(loc)}</loc></sitemap>" for loc in locs)
    return f'<?xml version="1.0"?><sitemapindex xmlns="{NS}">{body}</sitemapindex>'.encode()


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;")


@dataclass
class Expected:
    good: set[str] = field(default_factory=set)
    listed_good: int = 0  # good entries, duplicates included
    problems: int = 0


class SiteBuilder:
    """Routes for one example, under a fresh prefix so examples never share a path."""

    def __init__(self, servers: list[ScenarioServer], prefix: str) -> None:
        self.servers = servers
        self.prefix = prefix
        self.expected = Expected()
        self.pages = itertools.count()
        self.last_good: list[str] = []

    def page_locs(self, entries: list[tuple[str, object, bool]]) -> list[str]:
        locs: list[str] = []
        for kind, value, private in entries:
            if kind == "bad":
                assert isinstance(value, str)
                locs.append(value)
                self.expected.problems += 1
                continue
            if kind == "dup" and self.last_good:
                url = self.last_good[-1]
            else:
                assert isinstance(value, int)
                folder = "/private" if private else ""
                url = self.servers[value].url(f"{folder}{self.prefix}/p{next(self.pages)}")
                self.last_good.append(url)
            self.expected.good.add(url)
            self.expected.listed_good += 1
            locs.append(url)
        return locs

    def add(self, path: str, body: bytes, content_type: str = "application/xml") -> str:
        self.servers[0].html(path, body, content_type=content_type)
        return self.servers[0].url(path)

    def hostile_child(self, kind: str, path: str) -> str:
        url = self.servers[0].url(path)
        routes = self.servers[0].routes
        if kind == "dead":
            return url  # 404
        if kind == "server error":
            routes[path] = status(500, b"oops")
        elif kind == "dropped":
            routes[path] = drop_connection
        elif kind == "malformed":
            self.add(path, b"<urlset><url><loc>https://a.test/</loc></url>")
        elif kind == "doctype":
            self.add(path, b'<!DOCTYPE x [<!ENTITY a "b">]><urlset>&a;</urlset>')
        elif kind == "bad gzip":
            self.add(path, b"\x1f\x8b" + b"\x00" * 40, "application/gzip")
        elif kind == "nested index":
            self.add(path, index([self.servers[0].url(f"{self.prefix}/never.xml")]))
        elif kind == "html":
            self.add(path, b"<html><body>not a sitemap</body></html>", "text/html")
        return url

    def child(self, number: int, spec: tuple[str, list[tuple[str, object, bool]], object]) -> str:
        kind, entries, extra = spec
        path = f"{self.prefix}/child{number}.xml"
        if kind == "urlset":
            body = urlset(self.page_locs(entries))
            if extra:
                return self.add(path + ".gz", gzip.compress(body), "application/gzip")
            return self.add(path, body)
        self.expected.problems += 1
        if kind == "bad loc":
            assert isinstance(extra, str)
            return extra
        return self.hostile_child(kind, path)

    def top(self, spec: tuple[str, list[object]]) -> tuple[str, bool]:
        """The top-level sitemap's URL, and whether it can be read at all."""
        kind, items = spec
        path = f"{self.prefix}/sitemap.xml"
        if kind == "urlset":
            return self.add(path, urlset(self.page_locs(items))), True  # type: ignore[arg-type]
        if kind == "index":
            children = [self.child(n, c) for n, c in enumerate(items)]  # type: ignore[arg-type]
            return self.add(path, index(children)), True
        return self.hostile_child(kind, path), False


def configure_robots(servers: list[ScenarioServer], behaviours: list[str]) -> None:
    for server, behaviour in zip(servers, behaviours, strict=True):
        route, _ = ROBOTS[behaviour]
        server.routes.pop("/robots.txt", None)
        if route is not None:
            server.routes["/robots.txt"] = route


def check_verdicts(output: ListPagesOutput, servers: Servers, behaviours: list[str]) -> None:
    expectation = {s.origin: ROBOTS[b][1] for s, b in zip(servers.servers, behaviours, strict=True)}
    for lane in output["lanes"]:
        for batch in lane["batches"]:
            for task in batch["pages"]:
                origin = next(o for o in expectation if task["url"].startswith(o + "/"))
                expected = expectation[origin]
                verdict = task.get("robots")
                if expected == "none":
                    assert verdict is None, task
                elif expected == "allow":
                    assert verdict == {"allowed": True, "reason": None, "crawl_delay": None}
                elif expected == "rules":
                    assert verdict is not None
                    assert verdict["allowed"] is ("/private/" not in task["url"]), task
                elif verdict is not None:
                    assert isinstance(verdict["allowed"], bool)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(spec=top, behaviours=robots_behaviours)
def test_good_pages_are_listed_once_and_every_bad_entry_is_counted(
    servers: Servers, spec: tuple[str, list[object]], behaviours: list[str]
) -> None:
    number = next(servers.examples)
    builder = SiteBuilder(servers.servers, f"/e{number}")
    root, readable = builder.top(spec)
    configure_robots(servers.servers, behaviours)
    store = SQLiteStore(servers.tmp / f"store{number}.db")
    context = ListingContext(
        settings=SETTINGS,
        store=store,
        fetch_sitemap=safe_http_fetcher(SETTINGS),
        objects=S3Objects(),
        check_robots=robots_checker(SETTINGS),
    )
    run_event = {
        "input": {"sitemap": root},
        "execution": f"hostile-{number}",
        "started_at": "2026-03-01T10:00:00Z",
    }
    expected = builder.expected
    outcome: ListPagesOutput | InvalidInputError
    try:
        outcome = list_pages(run_event, context)
    except InvalidInputError as error:
        outcome = error
    finally:
        store.close()
    if isinstance(outcome, InvalidInputError):
        # only a top-level sitemap that cannot be read or lists no good page fails the run
        assert outcome.field == "sitemap"
        assert not readable or not expected.good, outcome
        if readable and expected.problems:
            assert f"{expected.problems} problem" in outcome.problem
        event("refused: nothing to crawl" if readable else f"refused: top-level {spec[0]}")
        return
    assert readable
    assert expected.good
    output = outcome
    run = output["run"]
    urls = [p["url"] for lane in output["lanes"] for b in lane["batches"] for p in b["pages"]]
    assert sorted(urls) == sorted(expected.good)  # every good page, exactly once
    assert run["page_count"] == len(expected.good)
    assert run["duplicates_dropped"] == expected.listed_good - len(expected.good)
    problems = run.get("source_problems")
    if expected.problems == 0:
        assert problems is None
    else:
        assert problems is not None
        assert problems["count"] == expected.problems
        assert len(problems["first"]) == min(expected.problems, 10)
        assert all(p["source"] and p["reason"] for p in problems["first"])
    check_verdicts(output, servers, behaviours)
    event(f"listed with {min(expected.problems, 3)}+ problems")
