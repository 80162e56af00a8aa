"""StoreAndNotify on v0.2's shapes: lanes inline, results objects in S3, caught Map failures.

Every page of the run comes out exactly once, with its own result or the best reason known.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from lambdas.common.errors import InvalidInputError
from lambdas.common.models import PageResult
from lambdas.common.store import DynamoDBStore
from lambdas.store_and_notify import handler as store_handler
from lambdas.store_and_notify.results import S3ResultReader, run_results
from lambdas.store_and_notify.storing import map_results, parse_run
from tests.lambdas.data_support import AwsClients, aws, make_result
from tests.lambdas.lanes_support import (
    DistributedRun,
    batch_output,
    caught_output,
    lanes_run_info,
)

__all__ = ["aws"]  # fixture used by name

MAP_ERROR = {
    "Error": "States.ExceedToleratedFailureThreshold",
    "Cause": "The specified tolerated failure threshold was exceeded",
}


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch, aws: AwsClients) -> Iterator[AwsClients]:
    monkeypatch.setenv("CRAWLMAP_TABLE_NAME", aws.table)
    monkeypatch.setenv("CRAWLMAP_BUCKET_NAME", aws.bucket)
    monkeypatch.setenv("CRAWLMAP_TOPIC_ARN", aws.topic_arn)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    store_handler.storing_context.cache_clear()
    yield aws
    store_handler.storing_context.cache_clear()


def by_url(results: Any) -> dict[str, PageResult]:
    found = list(results)
    urls = [r["url"] for r in found]
    assert len(urls) == len(set(urls)), "a page came out twice"
    return {r["url"]: r for r in found}


def results_of(event: dict[str, Any], s3: Any, chunk_bytes: int = 1024) -> dict[str, PageResult]:
    return by_url(map_results(parse_run(event), S3ResultReader(client=s3, chunk_bytes=chunk_bytes)))


def caught(urls: list[str], error: str, cause: str) -> dict[str, Any]:
    pages = [{"url": u, "previous": None} for u in urls]
    return {
        "batch_id": 9,
        "results": [],
        "failure": {"pages": pages, "error": error, "cause": cause},
    }


# ---------------------------------------------------------------- inline


def test_inline_lanes_give_every_page_once_crawled_results_first(aws: AwsClients) -> None:
    lambda_cause = json.dumps({"errorType": "TransientCrawlError", "errorMessage": "HTTP 503"})
    event = {
        "run": lanes_run_info("run-i", aws.bucket, mode="inline"),
        "lanes": [
            [
                {"batch_id": 0, "results": [make_result("https://a.test/1", "new")]},
                caught(["https://a.test/2"], "TransientCrawlError", lambda_cause),
            ],
            [
                # The same page in two lanes' outputs: its first crawled record is kept, and a
                # caught failure never replaces a crawled result.
                caught(["https://a.test/1", "https://b.test/1"], "Lambda.Unknown", "boom"),
                {"batch_id": 2, "results": [make_result("https://b.test/2", "changed")]},
            ],
            [],
        ],
    }
    results = results_of(event, aws.s3)

    assert {u: r["outcome"] for u, r in results.items()} == {
        "https://a.test/1": "new",
        "https://a.test/2": "failed",
        "https://b.test/1": "failed",
        "https://b.test/2": "changed",
    }
    # TransientCrawlError is retried by CRAWL_BATCH_RETRY: caught after all 4 attempts.
    # ...and the record keeps the status the site last answered.
    assert (results["https://a.test/2"]["attempts"], results["https://a.test/2"]["status"]) == (
        4,
        503,
    )
    assert results["https://a.test/2"]["error"] == "TransientCrawlError: HTTP 503"
    assert results["https://b.test/1"]["attempts"] == 1  # not a retried error


def test_inline_map_failure_fails_every_page_of_the_original_lanes(deployed: AwsClients) -> None:
    lanes = [
        {"lane_id": 0, "batches": [{"batch_id": 0, "pages": [{"url": "https://a.test/1"}]}]},
        {
            "lane_id": 1,
            "batches": [
                {
                    "batch_id": 1,
                    "pages": [{"url": "https://b.test/1"}, {"url": "https://b.test/2"}],
                },
                {"batch_id": 2, "pages": [{"url": "https://b.test/3"}]},
            ],
        },
    ]
    event = {"run": lanes_run_info("run-m", deployed.bucket, "inline"), "lanes": lanes}
    summary = store_handler.handler({**event, "map_error": MAP_ERROR}, None)

    assert (summary["total"], summary["failed"], summary["failure_ratio"]) == (4, 4, 1.0)
    expected = "States.ExceedToleratedFailureThreshold: The specified tolerated failure"
    assert all(f["error"].startswith(expected) for f in summary["first_failures"])
    stored = DynamoDBStore(deployed.table, client=deployed.dynamodb).run_results("run-m")
    assert sorted(r["url"] for r in stored) == [
        "https://a.test/1",
        "https://b.test/1",
        "https://b.test/2",
        "https://b.test/3",
    ]


def test_bad_lanes_name_their_place(aws: AwsClients) -> None:
    run = lanes_run_info("r", aws.bucket, "inline")
    with pytest.raises(InvalidInputError, match=r"^lanes: "):
        list(map_results(parse_run({"run": run, "lanes": {"x": 1}}), S3ResultReader(aws.s3)))
    with pytest.raises(InvalidInputError, match=r"^lanes\[1\]: "):
        list(map_results(parse_run({"run": run, "lanes": [[], {}]}), S3ResultReader(aws.s3)))
    bad_result = {"run": run, "lanes": [[{"batch_id": 0, "results": [{"url": "u"}]}]]}
    with pytest.raises(InvalidInputError, match=r"^lanes\[0\]\[0\]\.results\[0\]: "):
        list(map_results(parse_run(bad_result), S3ResultReader(aws.s3)))
    with pytest.raises(InvalidInputError, match=r"^map_error: "):
        parse_run({"run": run, "lanes": [], "map_error": "x"})
    with pytest.raises(InvalidInputError, match=r"^lanes: missing"):
        parse_run({"run": run})


# ---------------------------------------------------------------- distributed


def pages(lane: int, batch: int, count: int) -> list[str]:
    return [f"https://h{lane}.test/{batch}/{i}" for i in range(count)]


def mixed_run(aws: AwsClients) -> DistributedRun:
    """Lane 0: both batches crawled. Lane 1: batch 1 caught by RecordFailureDistributed.
    Lane 2: batch 0 crawled, then the child execution timed out. Lane 3: never ran."""
    run = DistributedRun(
        aws.s3,
        aws.bucket,
        "run-d",
        lanes={lane: [pages(lane, b, 3) for b in range(2)] for lane in range(4)},
    )
    run.write_plan()
    for lane, batch in ((0, 0), (0, 1), (1, 0), (2, 0)):
        run.write_results(lane, batch, [make_result(u, "new") for u in pages(lane, batch, 3)])
    run.child(0, [batch_output(0, 0, 3), batch_output(0, 1, 3)])
    run.child(1, [batch_output(1, 0, 3), caught_output(1, 1, "Lambda.Unknown", "out of memory")])
    run.child(2, None, status="FAILED", error="States.Timeout", cause="child timed out")
    return run


def test_distributed_results_objects_and_reasons_account_for_every_page(
    deployed: AwsClients,
) -> None:
    run = mixed_run(deployed)
    event = {"run": run.run, "lanes": {"result_writer": run.write_result_writer()}}
    results = results_of(event, deployed.s3)

    assert len(results) == 4 * 2 * 3
    crawled = {u for lane, b in ((0, 0), (0, 1), (1, 0), (2, 0)) for u in pages(lane, b, 3)}
    assert {u for u, r in results.items() if r["outcome"] == "new"} == crawled
    errors = {u: r["error"] for u, r in results.items() if r["outcome"] == "failed"}
    assert {errors[u] for u in pages(1, 1, 3)} == {"Lambda.Unknown: out of memory"}
    assert {errors[u] for u in pages(2, 1, 3)} == {"States.Timeout: child timed out"}
    assert {errors[u] for u in [*pages(3, 0, 3), *pages(3, 1, 3)]} == {
        "NotCrawled: no result for lane 3 batch 0",
        "NotCrawled: no result for lane 3 batch 1",
    }

    summary = store_handler.handler(event, None)
    assert (summary["total"], summary["ok"], summary["failed"]) == (24, 12, 12)
    assert store_handler.handler(event, None)["failed"] == 12  # idempotent


def test_distributed_map_failure_reads_what_was_written_and_fails_the_rest(
    aws: AwsClients,
) -> None:
    run = mixed_run(aws)
    run.write_result_writer()  # AWS may write the files of a failed Map Run: found by listing
    event = {"run": run.run, "lanes": [], "map_error": MAP_ERROR}
    results = results_of(event, aws.s3)

    assert len(results) == 24
    assert sum(r["outcome"] == "new" for r in results.values()) == 12
    assert results[pages(1, 1, 3)[0]]["error"] == "Lambda.Unknown: out of memory"
    assert results[pages(3, 0, 3)[0]]["error"].startswith("States.ExceedToleratedFailureThreshold")


def test_distributed_map_failure_without_result_writer_files(aws: AwsClients) -> None:
    run = mixed_run(aws)
    event = {"run": run.run, "lanes": [], "map_error": MAP_ERROR}
    results = results_of(event, aws.s3)

    failed = [r for r in results.values() if r["outcome"] == "failed"]
    assert (len(results), len(failed)) == (24, 12)
    assert all(r["error"].startswith("States.ExceedToleratedFailureThreshold") for r in failed)


def test_results_objects_stream_across_any_chunk_boundary(aws: AwsClients) -> None:
    run = mixed_run(aws)
    event = {"run": run.run, "lanes": {"result_writer": run.write_result_writer()}}
    whole = results_of(event, aws.s3)
    for chunk_bytes in (1, 7, 100):
        assert results_of(event, aws.s3, chunk_bytes) == whole


def test_a_results_object_the_plan_does_not_name_is_still_read(aws: AwsClients) -> None:
    run = DistributedRun(aws.s3, aws.bucket, "run-s", lanes={0: [["https://a.test/1"]]})
    run.write_plan()
    run.write_results(0, 0, [make_result("https://a.test/1", "new")])
    run.write_results(5, 0, [make_result("https://a.test/stray", "new")])
    event = {"run": run.run, "lanes": {"result_writer": run.write_result_writer()}}
    assert sorted(results_of(event, aws.s3)) == ["https://a.test/1", "https://a.test/stray"]


def test_a_distributed_run_needs_its_plan(aws: AwsClients) -> None:
    run = lanes_run_info("r", aws.bucket)
    del run["lanes_location"]
    with pytest.raises(InvalidInputError, match=r"^run\.lanes_location: "):
        list(run_results([], S3ResultReader(aws.s3), run=run))
