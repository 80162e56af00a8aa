"""Pure parts of StoreAndNotify: counting, failure expansion, streamed JSON, notification text."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambdas.common.errors import InvalidInputError
from lambdas.common.models import RunInfo
from lambdas.store_and_notify.results import (
    batch_results,
    child_results,
    describe_error,
    iter_json_array,
    iter_member_array,
    parse_manifest,
)
from lambdas.store_and_notify.summary import (
    SummaryCounter,
    failure_ratio,
    message_text,
    subject_line,
)
from tests.lambdas.data_support import make_result

RUN = RunInfo(
    run_id="run-1",
    started_at="2026-01-01T00:00:00.000Z",
    mode="inline",
    page_count=0,
    batch_count=0,
    duplicates_dropped=0,
    batches_location=None,
    results_prefix=None,
)


def test_counter_counts_each_outcome_and_keeps_ten_failures() -> None:
    counter = SummaryCounter()
    for i in reversed(range(12)):
        counter.add(make_result(f"https://a.test/f{i:02}", "failed", error=f"HTTP {400 + i}"))
    for outcome in ("new", "new", "changed", "unchanged", "skipped"):
        counter.add(make_result(f"https://a.test/{outcome}", outcome))

    summary = counter.summary(RUN, datetime(2026, 1, 1, 0, 0, 42, 500000, tzinfo=UTC))

    assert {k: summary[k] for k in ("total", "ok", "failed", "skipped")} == {
        "total": 17,
        "ok": 4,
        "failed": 12,
        "skipped": 1,
    }
    assert (summary["new"], summary["changed"], summary["unchanged"]) == (2, 1, 1)
    assert summary["failure_ratio"] == pytest.approx(12 / 16)
    assert summary["duration_s"] == 42.5
    assert summary["finished_at"] == "2026-01-01T00:00:42.500Z"
    # The ten smallest URLs, whatever order they arrived in.
    assert summary["first_failures"] == [
        {"url": f"https://a.test/f{i:02}", "error": f"HTTP {400 + i}"} for i in range(10)
    ]


def test_failure_ratio_of_an_empty_or_all_skipped_run_is_zero() -> None:
    assert failure_ratio(0, 0, 0) == 0.0
    assert failure_ratio(0, 3, 3) == 0.0
    assert failure_ratio(1, 4, 0) == 0.25


def test_subject_has_the_counts_and_fits_sns() -> None:
    summary = SummaryCounter(total=135, ok=120, failed=3, changed=10, new=2).summary(
        RUN, datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert subject_line(summary) == "crawlmap run run-1: 120 ok, 3 failed, 10 changed, 2 new"
    summary["run_id"] = "x" * 80
    long_subject = subject_line(summary)
    assert len(long_subject) < 100
    assert long_subject.endswith("...: 120 ok, 3 failed, 10 changed, 2 new")


def test_message_is_readable_and_ends_with_the_summary_json() -> None:
    counter = SummaryCounter()
    counter.add(make_result("https://a.test/x", "failed", error="HTTP 404"))
    summary = counter.summary(RUN, datetime(2026, 1, 1, 0, 1, tzinfo=UTC))
    text = message_text(summary)
    assert "https://a.test/x  HTTP 404" in text
    assert "100.0% of attempted pages" in text
    assert json.loads(text.splitlines()[-1]) == summary


@pytest.mark.parametrize(
    ("error", "cause", "expected"),
    [
        (
            "TransientCrawlError",
            json.dumps({"errorType": "TransientCrawlError", "errorMessage": "timeout (read)"}),
            "TransientCrawlError: timeout (read)",
        ),
        ("States.Timeout", "", "States.Timeout"),
        ("States.TaskFailed", "plain words", "States.TaskFailed: plain words"),
        (None, None, "UnknownError"),
        ("E", "x" * 900, "E: " + "x" * 494 + "..."),
    ],
)
def test_describe_error(error: object, cause: object, expected: str) -> None:
    assert describe_error(error, cause) == expected


def test_a_batch_failure_becomes_one_failed_record_per_page() -> None:
    failure = {
        "batch_id": 4,
        "results": [],
        "failure": {
            "pages": [{"url": "https://a.test/1", "previous": None}, {"url": "https://b.test/2"}],
            "error": "Lambda.Unknown",
            "cause": json.dumps({"errorMessage": "Task timed out after 900.00 seconds"}),
        },
    }
    results = list(batch_results(failure, "batches[0]"))
    assert [(r["url"], r["outcome"], r["ok"], r["attempts"]) for r in results] == [
        ("https://a.test/1", "failed", False, 1),
        ("https://b.test/2", "failed", False, 1),
    ]
    assert results[0]["error"] == "Lambda.Unknown: Task timed out after 900.00 seconds"


def test_a_one_page_batch_out_of_retries_keeps_its_last_http_status() -> None:
    """CrawlBatch raises TransientCrawlError('<url>: HTTP 500') for a one-page batch; once the
    Retry gives up, the page's record says what the site answered, without the URL twice."""
    url = "https://a.test/broken"
    failure = {
        "batch_id": 0,
        "results": [],
        "failure": {
            "pages": [{"url": url, "previous": None}],
            "error": "TransientCrawlError",
            "cause": json.dumps(
                {"errorType": "TransientCrawlError", "errorMessage": f"{url}: HTTP 500 (attempt 4)"}
            ),
        },
    }
    (result,) = batch_results(failure, "batches[0]")
    assert (result["status"], result["error"]) == (500, "TransientCrawlError: HTTP 500")
    assert result["attempts"] == 4  # CrawlBatch counted the Retry attempts before the Catch
    assert (result["ok"], result["outcome"]) == (False, "failed")


def test_a_timeout_failure_has_no_status_and_other_pages_keep_their_url_in_the_message() -> None:
    message = "https://a.test/1: timeout (read)"
    failure = {
        "batch_id": 0,
        "results": [],
        "failure": {
            "pages": [{"url": "https://a.test/1"}, {"url": "https://a.test/2"}],
            "error": "TransientCrawlError",
            "cause": json.dumps({"errorMessage": message}),
        },
    }
    results = list(batch_results(failure, "batches[0]"))
    assert [r["status"] for r in results] == [None, None]
    assert {r["error"] for r in results} == {f"TransientCrawlError: {message}"}


def test_malformed_batch_items_name_their_place() -> None:
    with pytest.raises(InvalidInputError) as caught:
        list(batch_results({"batch_id": 1, "results": [{"url": "u", "ok": True}]}, "batches[2]"))
    assert caught.value.field == "batches[2].results[0]"


def test_a_failed_child_execution_expands_its_input_pages() -> None:
    record = {
        "ExecutionArn": "arn:aws:states:us-east-1:123:express:x:y:z",
        "Input": json.dumps({"run_id": "r", "batch_id": 7, "pages": [{"url": "https://a.test/"}]}),
        "Status": "FAILED",
        "Error": "States.Timeout",
        "Cause": "The execution timed out",
    }
    [result] = list(child_results(record, "file[0]"))
    assert result["url"] == "https://a.test/"
    assert result["error"] == "States.Timeout: The execution timed out"
    succeeded = {
        "Status": "SUCCEEDED",
        "Input": "{}",
        "Output": json.dumps({"batch_id": 7, "results": [make_result("https://a.test/")]}),
    }
    assert [r["outcome"] for r in child_results(succeeded, "file[1]")] == ["new"]


def test_manifest_lists_succeeded_files_first() -> None:
    manifest = {
        "DestinationBucket": "dest",
        "MapRunArn": "arn:x",
        "ResultFiles": {
            "FAILED": [{"Key": "p/FAILED_0.json", "Size": 10}],
            "PENDING": [],
            "SUCCEEDED": [{"Key": "p/SUCCEEDED_0.json", "Size": 10}],
        },
    }
    files = parse_manifest(manifest, "other")
    assert [(f.status, f.bucket, f.key) for f in files] == [
        ("SUCCEEDED", "dest", "p/SUCCEEDED_0.json"),
        ("FAILED", "dest", "p/FAILED_0.json"),
    ]


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(values=st.lists(json_values, max_size=8), size=st.integers(1, 7), indent=st.booleans())
def test_streamed_array_equals_json_loads_at_any_chunk_boundary(
    values: list[Any], size: int, indent: bool
) -> None:
    data = json.dumps(values, indent=2 if indent else None, ensure_ascii=False).encode()
    assert list(iter_json_array(split(data, size))) == values


@pytest.mark.parametrize(
    "data",
    [b"", b"{}", b"[1, 2", b"[1 2]", b"[1,]", b"[1] [2]", b"\xff[]", b'["\xe2\x82"]'],
)
def test_broken_result_files_are_reported(data: bytes) -> None:
    with pytest.raises(InvalidInputError, match=r"^batches\.result_writer: "):
        list(iter_json_array(split(data, 2), "s3://b/k"))


def test_streaming_does_not_read_ahead_of_what_is_consumed() -> None:
    served: list[int] = []

    def chunks() -> Any:
        for index in range(1000):
            served.append(index)
            yield (b"[" if index == 0 else b",") + b'{"n": %d}' % index
        yield b"]"

    stream = iter_json_array(chunks())
    assert next(stream) == {"n": 0}
    assert len(served) <= 2


outcomes = st.sampled_from(["new", "changed", "unchanged", "failed", "skipped"])


@given(
    plan=st.lists(st.tuples(st.integers(0, 40), outcomes), max_size=40, unique_by=lambda t: t[0]),
    data=st.data(),
)
def test_summary_does_not_depend_on_the_order_results_arrive(plan: Any, data: Any) -> None:
    results = [make_result(f"https://a.test/{n}", outcome) for n, outcome in plan]
    shuffled = data.draw(st.permutations(results))
    finished = datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
    in_order, reordered = SummaryCounter(), SummaryCounter()
    for result in results:
        in_order.add(result)
    for result in shuffled:
        reordered.add(result)
    assert in_order.summary(RUN, finished) == reordered.summary(RUN, finished)
    failed = sorted(r["url"] for r in results if r["outcome"] == "failed")
    assert [f["url"] for f in in_order.summary(RUN, finished)["first_failures"]] == failed[:10]


@given(
    values=st.lists(json_values, max_size=6),
    others=st.dictionaries(st.text(max_size=3).filter(lambda k: k != "results"), json_values),
    size=st.integers(1, 7),
)
def test_streamed_member_array_equals_json_loads_at_any_chunk_boundary(
    values: list[Any], others: dict[str, Any], size: int
) -> None:
    whole = {**others, "results": values}
    data = json.dumps(whole, ensure_ascii=False).encode()
    found: dict[str, Any] = {}
    assert list(iter_member_array(split(data, size), "results", "s3://b/k", "f", found)) == values
    assert found == others


def test_a_results_object_streams_without_reading_ahead() -> None:
    served: list[int] = []

    def chunks() -> Any:
        yield b'{"batch_id": 3, "results": ['
        for index in range(1000):
            served.append(index)
            yield (b"" if index == 0 else b",") + b'{"n": %d}' % index
        yield b"]}"

    stream = iter_member_array(chunks(), "results", "s3://b/k", "run.results_prefix")
    assert next(stream) == {"n": 0}
    assert len(served) <= 2
