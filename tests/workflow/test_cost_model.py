"""crawlmap.cost's duration model on the real engine (moto's interpreter, the real handlers, a
real site on 127.0.0.1): CPU time is measured per invocation, so the same pages cost the
same however they are batched, and the projection of the cost goal holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crawlmap.cost import estimate_cost, project_run
from crawlmap.cost.duration import cpu_scale
from crawlmap.crawl_hooks import CrawlHooks
from crawlmap.demo import DemoSite
from crawlmap.engine.runner import EngineOptions, run_execution
from crawlmap.history import load_run
from crawlmap.inspect_cli import main
from lambdas.common import env
from tests.workflow.conftest import Crawl

PAGES = 100  # batch_size is at most 100
ONE_AT_A_TIME = {env.PER_HOST_CONCURRENCY: "1"}  # one lane, one request in flight: same waits


def crawl_gb_seconds(run_dir: Path) -> float:
    breakdown = estimate_cost(run_dir)
    line = next(x for x in breakdown.lines if x.item.startswith("CrawlBatch GB-seconds"))
    return line.quantity


def test_the_same_pages_in_1_or_10_batches_price_alike_whatever_the_load(
    template: dict[str, Any], tmp_path: Path
) -> None:
    """Wall clock priced these 7x apart before lanes (issue 13): ten invocations in flight on
    one host each billed the others' pages as their waiting. CPU time does not. Each layout is
    crawled five times and the lowest kept: the CPU time is normalized for the core's speed
    (cpu.SpeedProbe), yet one run can still catch a burst of load the probe samples miss."""
    priced: dict[int, float] = {}
    with DemoSite() as site:
        pages = [site.url(f"/echo/page-{i}") for i in range(PAGES)]
        for attempt in range(5):
            for batch_size in (PAGES, PAGES // 10):
                # fresh URLs each time (nothing unchanged), the same pages in both layouts
                urls = [f"{url}?n={attempt}" for url in pages]
                record = run_execution(
                    {"pages": urls, "batch_size": batch_size},
                    EngineOptions(
                        home=tmp_path / f"home-{batch_size}",
                        template=template,
                        hooks=CrawlHooks(),
                        time_scale=1.0,  # CrawlBatch's real timeout: 100 pages one at a time
                        env_overrides={env.ALLOW_PRIVATE_NETWORKS: "true", **ONE_AT_A_TIME},
                    ),
                )
                assert record.status == "SUCCEEDED"
                crawl_fn = record.meta["functions"]["CrawlBatch"]
                assert crawl_fn["invocations"] == PAGES // batch_size
                assert crawl_fn["cpu_ms_total"] > 0  # the loop thread's CPU is counted
                gbs = crawl_gb_seconds(record.run_dir)
                priced[batch_size] = min(priced.get(batch_size, gbs), gbs)
    one, ten = priced[PAGES], priced[PAGES // 10]
    # Ten invocations also pay ten times the fixed CPU of an invocation (~3-4 ms: the settings,
    # the store, the client, the lane), on AWS too: their CPU alone measured 83 ms vs 123 ms on
    # an idle machine, priced 1.4x to 2.2x apart with load around. The bound is for that real
    # difference and for load; the wall clock once priced them 7x apart.
    assert max(one, ten) <= 2.5 * min(one, ten), (one, ten)


def test_measured_and_assumed_are_printed_and_priced_by_the_model(
    crawl: Crawl, capsys: pytest.CaptureFixture[str]
) -> None:
    with DemoSite() as site:
        record = crawl({"pages": [site.url(f"/echo/m-{i}") for i in range(20)], "batch_size": 5})
    assert record.status == "SUCCEEDED"
    crawl_fn = record.meta["functions"]["CrawlBatch"]
    assert main(["cost", str(record.run_dir), "--json", "--page-wait-ms", "100"]) == 0
    doc = json.loads(capsys.readouterr().out)
    model = doc["durations"]
    assert model["assumed"]["page_wait_ms"] == 100
    assert model["measured"]["batches"] == 4
    assert model["measured"]["batches_from"] == "history"
    crawl_model = model["functions"]["CrawlBatch"]
    assert crawl_model["cpu_ms_total"] == pytest.approx(crawl_fn["cpu_ms_total"])
    # 4 lanes of one host (per_host_concurrency 4, one slot each): a batch's 5 pages one
    # after another, 500 ms of waiting per batch
    assert crawl_model["wait_ms_total"] == pytest.approx(4 * 5 * 100)
    billed = crawl_fn["cpu_ms_total"] * cpu_scale(crawl_fn["memory_mb"]) + 2000
    line = next(x for x in doc["lines"] if x["item"].startswith("CrawlBatch GB-seconds"))
    per_call = -(-billed // crawl_fn["invocations"])  # rounded up to 1 ms per invocation
    expected = crawl_fn["memory_mb"] / 1024 * per_call * crawl_fn["invocations"] / 1000
    assert line["quantity"] == pytest.approx(expected)
    assert main(["cost", str(record.run_dir)]) == 0
    text = capsys.readouterr().out
    assert "Network wait: 100 ms per page (assumed)" not in text
    assert "measured, each host's lowest elapsed_ms" in text
    assert "arm64 factor" in text


def test_projected_100000_pages_on_100_hosts_meet_the_cost_goal(
    crawl: Crawl, capsys: pytest.CaptureFixture[str]
) -> None:
    with DemoSite() as site:
        record = crawl(
            {"pages": [site.url(f"/echo/p-{i}") for i in range(40)], "distributed_threshold": 0}
        )
    assert record.status == "SUCCEEDED"
    assert record.meta["mode"] == "distributed"
    run = load_run(record.run_dir)
    projected = project_run(run, pages=100_000, hosts=100, page_wait_ms=100)
    assert projected.projection is not None
    assert projected.projection["batches"] == 1000  # distributed_batch_size 100
    lanes = projected.projection["lanes"]
    assert projected.usage.child_executions == lanes
    # parent: 6 states; each child: its start, PlanLane, CrawlLaneDistributed, a state per batch
    assert projected.billed_state_transitions == 6 + lanes + 2 * lanes + 1000
    assert projected.compute_orchestration_usd <= 0.05
    assert main(["cost", str(record.run_dir), "--project", "100000", "--hosts", "100"]) == 0
    out = capsys.readouterr().out
    assert "Projected: 100,000 pages on 100 hosts, 100 ms network wait" in out


def test_the_measured_distributed_run_counts_its_standard_children(crawl: Crawl) -> None:
    with DemoSite() as site:
        record = crawl(
            {"pages": [site.url(f"/echo/d-{i}") for i in range(12)], "distributed_threshold": 0}
        )
    distributed = record.meta["distributed"]
    assert distributed["execution_type"] == "STANDARD"
    breakdown = estimate_cost(record.run_dir)
    batches = record.meta["functions"]["CrawlBatch"]["invocations"]
    lanes = distributed["child_executions"]
    # what the projection assumes of the definition, checked against the run
    assert distributed["child_state_transitions"] == 2 * lanes + batches
    assert breakdown.transitions.top_level_entered == 6
    assert breakdown.billed_state_transitions == breakdown.state_transitions + lanes + (
        2 * lanes + batches
    )
