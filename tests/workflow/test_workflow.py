"""The synthesized state machine, run on the local engine against a real site on 127.0.0.1.

Every test checks the invariant: each input page appears exactly once in the results (the run's
results.jsonl, read back from the store).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from crawlmap.demo import DemoSite
from crawlmap.engine.runner import RunRecord
from tests.workflow.conftest import Crawl


def assert_each_page_once(record: RunRecord, pages: Iterable[str]) -> dict[str, dict[str, Any]]:
    expected = sorted(set(pages))
    lines = (record.run_dir / "results.jsonl").read_text().splitlines()
    saved = [json.loads(line) for line in lines]
    assert sorted(r["url"] for r in saved) == expected
    assert sorted(r["url"] for r in record.results) == expected
    return {r["url"]: r for r in saved}


def events_of(record: RunRecord, event_type: str) -> list[dict[str, Any]]:
    return [e for e in record.events if e["type"] == event_type]


def entered_states(record: RunRecord) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in record.events
        if e["type"].endswith("Entered")
    ]


def counts(record: RunRecord) -> dict[str, Any]:
    assert record.summary is not None
    keys = ("total", "ok", "failed", "skipped", "new", "changed", "unchanged", "failure_ratio")
    return {k: record.summary[k] for k in keys}


def urls(site: DemoSite, paths: Sequence[str]) -> list[str]:
    return [site.url(p) for p in paths]


def test_happy_path(crawl: Crawl, site: DemoSite) -> None:
    pages = urls(site, ["/", "/articles/fan-out", "/articles/costs", "/files/crawlmap.pdf"])
    record = crawl({"pages": pages})

    assert record.status == "SUCCEEDED"
    assert counts(record) == {
        "total": 4, "ok": 4, "failed": 0, "skipped": 0,
        "new": 4, "changed": 0, "unchanged": 0, "failure_ratio": 0.0,
    }  # fmt: skip
    results = assert_each_page_once(record, pages)
    assert results[site.url("/articles/fan-out")]["title"] == "Why fan out a crawl"
    assert results[site.url("/files/crawlmap.pdf")]["content_type"] == "application/pdf"
    states = entered_states(record)
    assert states[:3] == ["ListPages", "ChooseMode", "CrawlPages"]
    assert states[-3:] == ["StoreAndNotify", "CheckFailureRatio", "Succeeded"]
    assert record.output == record.summary
    assert record.meta["mode"] == "inline"
    assert record.meta["functions"]["ListPages"]["invocations"] == 1
    assert record.meta["functions"]["StoreAndNotify"]["invocations"] == 1
    assert record.meta["store_writes"] >= 4
    notification = json.loads((record.run_dir / "notification.json").read_text())
    assert record.run_id in notification["subject"] + notification["message"]


def test_transient_failure_is_retried_by_the_state_machine(crawl: Crawl, site: DemoSite) -> None:
    flaky = site.url("/flaky/workflow-transient?fail=1")
    pages = [flaky, site.url("/articles/retries")]
    record = crawl({"pages": pages, "batch_size": 1})

    assert record.status == "SUCCEEDED"
    results = assert_each_page_once(record, pages)
    assert results[flaky]["ok"] is True
    assert results[flaky]["attempts"] == 2
    assert site.hits["/flaky/workflow-transient"] == 2
    # lambda:invoke is a service integration: its attempts show as Task* events.
    failed = events_of(record, "TaskFailed")
    assert [e["taskFailedEventDetails"]["error"] for e in failed] == ["TransientCrawlError"]
    succeeded_later = [
        json.loads(e["taskSucceededEventDetails"]["output"])["Payload"].get("batch_id")
        for e in events_of(record, "TaskSucceeded")
        if e["id"] > failed[0]["id"]
    ]
    assert 0 in succeeded_later, "the retried batch succeeded after its failure"
    assert counts(record)["ok"] == 2


def test_permanent_failures_become_failure_records_and_the_run_succeeds(
    crawl: Crawl, site: DemoSite
) -> None:
    broken = site.url("/status/500/workflow-permanent")
    missing = site.url("/status/404/workflow-permanent")
    good = urls(site, ["/", "/articles/history", "/articles/robots"])
    pages = [broken, missing, *good]
    record = crawl({"pages": pages, "batch_size": 1})

    assert record.status == "SUCCEEDED"
    results = assert_each_page_once(record, pages)
    # The 500 is transient: retried three times by the state machine, then caught.
    assert results[broken]["ok"] is False
    assert results[broken]["outcome"] == "failed"
    assert results[broken]["attempts"] == 4
    assert "RecordFailure" in entered_states(record)
    # The 404 is permanent: the handler records it without raising.
    assert results[missing]["status"] == 404
    assert results[missing]["error"] == "HTTP 404"
    assert counts(record)["failed"] == 2
    assert counts(record)["ok"] == 3


def test_every_page_failing_ends_in_run_failed(crawl: Crawl, site: DemoSite) -> None:
    pages = urls(site, ["/status/404/all-fail-a", "/status/410/all-fail-b", "/missing"])
    record = crawl({"pages": pages})

    assert record.status == "FAILED"
    assert record.error == "FailureRatioExceeded"
    assert record.cause is not None
    assert record.cause.startswith(
        "3 of 3 pages failed (0 skipped by robots.txt): failure ratio 1.0 is over the limit 0.5"
    )
    assert entered_states(record)[-1] == "RunFailed"
    assert counts(record)["failed"] == 3
    assert counts(record)["failure_ratio"] == 1.0
    results = assert_each_page_once(record, pages)
    assert all(not r["ok"] for r in results.values())
    assert not (record.run_dir / "output.json").exists()


def test_invalid_input_fails_with_a_cause_naming_the_field(crawl: Crawl, site: DemoSite) -> None:
    record = crawl({"pages": [site.url("/"), "ftp://example.com/file"]})
    assert record.status == "FAILED"
    assert record.error == "InvalidInput"
    assert (record.cause or "").startswith("pages[1]")
    assert entered_states(record)[-2:] == ["ExplainInvalidInput", "InvalidInput"]
    assert record.results == []

    unknown = crawl({"pagez": [site.url("/")]})
    assert unknown.error == "InvalidInput"
    assert "pagez" in (unknown.cause or "")


def test_duplicate_urls_collapse_to_one(crawl: Crawl, site: DemoSite) -> None:
    page = site.url("/echo/duplicate")
    same = [page, page + "#section", page + "?utm_source=mail", page.replace("http:", "HTTP:")]
    record = crawl({"pages": same})

    assert record.status == "SUCCEEDED"
    assert counts(record)["total"] == 1
    assert_each_page_once(record, [page])
    list_pages_exit = next(
        e for e in record.events if e.get("stateExitedEventDetails", {}).get("name") == "ListPages"
    )
    run = json.loads(list_pages_exit["stateExitedEventDetails"]["output"])["run"]
    assert run["duplicates_dropped"] == 3
    assert site.hits["/echo/duplicate"] == 1


def test_a_second_run_finds_the_pages_unchanged(crawl: Crawl, site: DemoSite) -> None:
    pages = urls(site, ["/articles/conditional-get", "/articles/getting-started", "/echo/again"])
    first = crawl({"pages": pages})
    second = crawl({"pages": pages})

    assert counts(first)["new"] == 3
    assert counts(second)["unchanged"] == 3
    assert counts(second)["new"] == 0
    results = assert_each_page_once(second, pages)
    assert all(r["outcome"] == "unchanged" for r in results.values())


def test_distributed_path_gives_the_inline_summary(
    crawl: Crawl, crawl_elsewhere: Crawl, site: DemoSite
) -> None:
    pages = [
        *urls(site, [f"/echo/distributed-{i}" for i in range(9)]),
        *urls(site, ["/status/404/distributed", "/private/distributed", "/images/logo.png"]),
    ]
    inline = crawl({"pages": pages, "batch_size": 2})
    distributed = crawl_elsewhere({"pages": pages, "batch_size": 2, "distributed_threshold": 5})

    assert inline.meta["mode"] == "inline"
    assert distributed.meta["mode"] == "distributed"
    assert distributed.status == inline.status == "SUCCEEDED"
    assert counts(distributed) == counts(inline)
    assert counts(inline)["skipped"] == 1
    assert distributed.summary is not None
    assert distributed.summary["mode"] == "distributed"
    inline_results = assert_each_page_once(inline, pages)
    distributed_results = assert_each_page_once(distributed, pages)
    assert {u: r["outcome"] for u, r in distributed_results.items()} == {
        u: r["outcome"] for u, r in inline_results.items()
    }
    assert "CrawlPagesDistributed" in entered_states(distributed)
    assert [e["type"] for e in distributed.events].count("MapRunStarted") == 1
    stats = distributed.meta["distributed"]
    # one child execution per lane: 12 pages of one host in 6 batches of 2 -> 4 lanes
    # (min(per_host_concurrency 4, 6 batches)), each running its batches one after another
    assert stats["child_executions"] == 4
    assert stats["child_executions_failed"] == 0
    assert distributed.meta["s3_requests"]["put"] >= 3  # batches, result file, manifest


def test_a_long_page_list_travels_through_s3(crawl: Crawl, site: DemoSite) -> None:
    pages = urls(site, [f"/echo/long-list-{i}" for i in range(30)])
    record = crawl({"pages": pages, "batch_size": 10}, stage_input_over_bytes=512)

    assert record.status == "SUCCEEDED"
    saved_input = json.loads((record.run_dir / "input.json").read_text())
    assert "pages" not in saved_input
    assert saved_input["pages_s3"].startswith("s3://")
    assert saved_input["batch_size"] == 10
    assert_each_page_once(record, pages)
    list_pages_input = record.events[1]["stateEnteredEventDetails"]["input"]
    assert len(list_pages_input) < 512, "the first state sees the S3 location, not the list"
