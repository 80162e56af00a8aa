"""Per-host limits for the whole run (issue 10), through the synthesized state machine on the
local engine: the lanes ListPages plans, the Maps' fan-out and CrawlBatch's gates together.

Each host is a server on its own 127.0.0.x address that records, per host, the requests in
flight and their start times. Inline and distributed paths alike."""

from __future__ import annotations

import contextlib
import itertools
import statistics
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from lambdas.common import env
from tests.lambdas.crawl_support import InFlight, ScenarioServer, running_server
from tests.workflow.conftest import Crawl

PATHS = ["inline", "distributed"]


@dataclass
class Site:
    server: ScenarioServer
    traffic: InFlight

    def pages(self, count: int) -> list[str]:
        for n in range(count):
            self.server.routes[f"/p{n}"] = self.traffic.route
        return [self.server.url(f"/p{n}") for n in range(count)]


def site(server: ScenarioServer, robots: str = "User-agent: *\nAllow: /\n") -> Site:
    server.html("/robots.txt", robots, content_type="text/plain")
    return Site(server, InFlight())


@pytest.fixture
def one_host() -> Iterator[ScenarioServer]:
    with running_server("127.0.0.21") as server:
        yield server


def run_input(pages: list[str], path: str, batch_size: int) -> dict[str, object]:
    payload: dict[str, object] = {"pages": pages, "batch_size": batch_size}
    if path == "distributed":
        payload["distributed_threshold"] = 0
    return payload


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("limit", [None, 2])
def test_one_host_never_sees_more_than_its_limit_in_flight(
    crawl: Crawl, one_host: ScenarioServer, path: str, limit: int | None
) -> None:
    host = site(one_host)
    pages = host.pages(120)
    overrides = {} if limit is None else {env.PER_HOST_CONCURRENCY: str(limit)}
    record = crawl(run_input(pages, path, batch_size=5), env_overrides=overrides)
    assert record.status == "SUCCEEDED", (record.error, record.cause)
    assert record.summary is not None
    assert record.summary["ok"] == 120
    allowed = limit or 4  # cdk.json's per_host_concurrency
    assert host.traffic.peak <= allowed
    assert host.traffic.peak >= 2  # lanes share the host at once (up to its limit)
    assert len(host.traffic.starts) == 120  # every page once


@pytest.mark.parametrize("path", PATHS)
def test_crawl_delay_spaces_the_hosts_requests_over_the_whole_run(
    crawl: Crawl, one_host: ScenarioServer, path: str
) -> None:
    host = site(one_host, "User-agent: *\nCrawl-delay: 0.5\n")
    pages = host.pages(8)
    record = crawl(run_input(pages, path, batch_size=2))
    assert record.status == "SUCCEEDED", (record.error, record.cause)
    starts = sorted(host.traffic.starts)
    assert len(starts) == 8
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert statistics.mean(gaps) >= 0.45
    assert host.traffic.peak == 1


@pytest.mark.parametrize("path", PATHS)
def test_many_hosts_run_at_once_while_each_keeps_its_limit(crawl: Crawl, path: str) -> None:
    everyone = InFlight()
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(running_server(f"127.0.0.{31 + n}")) for n in range(8)]
        sites = [site(server) for server in servers]
        for host in sites:
            host.traffic.hold_s, host.traffic.everyone = 0.15, everyone
        pages = [url for host in sites for url in host.pages(24)]
        record = crawl(run_input(pages, path, batch_size=4))
    assert record.status == "SUCCEEDED", (record.error, record.cause)
    assert record.summary is not None
    assert record.summary["ok"] == 8 * 24
    assert all(host.traffic.peak <= 4 for host in sites)
    assert everyone.peak > 8  # the fan-out pays: more than one host's worth at once
