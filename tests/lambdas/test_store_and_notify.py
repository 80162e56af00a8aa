"""The StoreAndNotify handler end to end.

moto (`mock_aws`) stands in for DynamoDB, S3 (the ResultWriter manifest and result files) and
SNS (read back through an SQS subscription); the local variant uses SQLite on a tmp path and
the console notifier with a notify file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdas.common.errors import InvalidInputError
from lambdas.common.models import RunInfo
from lambdas.common.store import DynamoDBStore, SQLiteStore
from lambdas.store_and_notify import handler as store_handler
from lambdas.store_and_notify.results import S3ResultReader, run_results
from tests.lambdas.data_support import (
    AwsClients,
    aws,
    child_record,
    make_result,
    published_messages,
    write_result_writer,
)

__all__ = ["aws"]  # fixture used by name

STARTED = "2026-03-01T10:00:00.000Z"


def run_info(mode: str = "inline", run_id: str = "run-1") -> RunInfo:
    return RunInfo(
        run_id=run_id,
        started_at=STARTED,
        mode=mode,  # type: ignore[typeddict-item]
        page_count=5,
        batch_count=3,
        duplicates_dropped=0,
        batches_location=None,
        results_prefix=None,
    )


def inline_event() -> dict[str, Any]:
    return {
        "run": run_info(),
        "batches": [
            {
                "batch_id": 0,
                "results": [
                    make_result("https://a.test/1", "new", content_hash="h1"),
                    make_result("https://b.test/1", "changed", content_hash="h2"),
                ],
            },
            {
                "batch_id": 1,
                "results": [
                    make_result("https://a.test/2", "unchanged", content_hash="h3"),
                    make_result("https://b.test/2", "skipped"),
                ],
            },
            {
                "batch_id": 2,
                "results": [],
                "failure": {
                    "pages": [{"url": "https://c.test/", "previous": None}],
                    "error": "TransientCrawlError",
                    "cause": json.dumps(
                        {"errorType": "TransientCrawlError", "errorMessage": "HTTP 503"}
                    ),
                },
            },
        ],
    }


COUNTS = ("total", "ok", "failed", "skipped", "new", "changed", "unchanged", "failure_ratio")


def counts(summary: Any) -> dict[str, Any]:
    return {key: summary[key] for key in (*COUNTS, "first_failures", "run_id", "mode")}


@pytest.fixture
def deployed_env(monkeypatch: pytest.MonkeyPatch, aws: AwsClients) -> Iterator[AwsClients]:
    monkeypatch.setenv("CRAWLMAP_TABLE_NAME", aws.table)
    monkeypatch.setenv("CRAWLMAP_BUCKET_NAME", aws.bucket)
    monkeypatch.setenv("CRAWLMAP_TOPIC_ARN", aws.topic_arn)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    store_handler.storing_context.cache_clear()
    yield aws
    store_handler.storing_context.cache_clear()


def table_items(aws: AwsClients) -> list[dict[str, Any]]:
    items = aws.dynamodb.scan(TableName=aws.table)["Items"]
    return sorted(items, key=lambda item: (item["pk"]["S"], item["sk"]["S"]))


def test_inline_run_is_stored_published_and_returned(deployed_env: AwsClients) -> None:
    aws = deployed_env
    summary = store_handler.handler(inline_event(), None)

    assert counts(summary) == {
        "total": 5,
        "ok": 3,
        "failed": 1,
        "skipped": 1,
        "new": 1,
        "changed": 1,
        "unchanged": 1,
        "failure_ratio": 0.25,
        "first_failures": [{"url": "https://c.test/", "error": "TransientCrawlError: HTTP 503"}],
        "run_id": "run-1",
        "mode": "inline",
    }
    json.dumps(summary)
    store = DynamoDBStore(aws.table, client=aws.dynamodb)
    assert store.get_summary("run-1") == summary
    assert len(list(store.run_results("run-1"))) == 5
    assert set(
        store.previous_states(["https://a.test/1", "https://c.test/", "https://b.test/2"])
    ) == {"https://a.test/1"}
    [published] = published_messages(aws)
    assert published["subject"] == "crawlmap run run-1: 3 ok, 1 failed, 1 changed, 1 new"
    assert "https://c.test/  TransientCrawlError: HTTP 503" in published["message"]


def test_running_twice_writes_and_counts_the_same(deployed_env: AwsClients) -> None:
    aws = deployed_env
    first = store_handler.handler(inline_event(), None)
    items_after_first = table_items(aws)
    second = store_handler.handler(inline_event(), None)

    assert counts(second) == counts(first)
    after_second = table_items(aws)
    # Only the summary's finish time may differ between the two runs.
    assert [i for i in after_second if i["sk"]["S"] != "SUMMARY" and i["pk"]["S"] != "RUNS"] == [
        i for i in items_after_first if i["sk"]["S"] != "SUMMARY" and i["pk"]["S"] != "RUNS"
    ]
    assert len(after_second) == len(items_after_first)


def distributed_event(aws: AwsClients) -> dict[str, Any]:
    ok_batch = {
        "batch_id": 0,
        "results": [make_result(f"https://a.test/{i}", "new") for i in range(3)],
    }
    caught = {
        "batch_id": 1,
        "results": [],
        "failure": {
            "pages": [{"url": "https://b.test/1", "previous": None}],
            "error": "States.TaskFailed",
            "cause": "boom",
        },
    }
    key = write_result_writer(
        aws.s3,
        aws.bucket,
        "runs/run-d/results",
        {
            "SUCCEEDED": [
                [child_record(0, [f"https://a.test/{i}" for i in range(3)], output=ok_batch)],
                [child_record(1, ["https://b.test/1"], output=caught)],
            ],
            "FAILED": [
                [
                    child_record(
                        2,
                        ["https://c.test/1", "https://c.test/2"],
                        status="FAILED",
                        error="States.Timeout",
                        cause="The execution timed out",
                    )
                ]
            ],
        },
    )
    return {
        "run": run_info("distributed", "run-d"),
        "batches": {"result_writer": {"Bucket": aws.bucket, "Key": key}},
    }


def test_distributed_run_reads_the_result_writer_manifest(deployed_env: AwsClients) -> None:
    aws = deployed_env
    summary = store_handler.handler(distributed_event(aws), None)

    assert (summary["total"], summary["ok"], summary["failed"], summary["new"]) == (6, 3, 3, 3)
    assert summary["mode"] == "distributed"
    assert summary["first_failures"] == [
        {"url": "https://b.test/1", "error": "States.TaskFailed: boom"},
        {"url": "https://c.test/1", "error": "States.Timeout: The execution timed out"},
        {"url": "https://c.test/2", "error": "States.Timeout: The execution timed out"},
    ]
    stored = DynamoDBStore(aws.table, client=aws.dynamodb).run_results("run-d")
    expected = [f"https://a.test/{i}" for i in range(3)]
    expected += ["https://b.test/1", "https://c.test/1", "https://c.test/2"]
    assert sorted(r["url"] for r in stored) == sorted(expected)
    again = store_handler.handler(distributed_event(aws), None)
    assert counts(again) == counts(summary)


def test_bad_input_names_the_field(deployed_env: AwsClients) -> None:
    with pytest.raises(InvalidInputError, match=r"^run: "):
        store_handler.handler({"batches": []}, None)
    with pytest.raises(InvalidInputError, match=r"^batches: "):
        store_handler.handler({"run": run_info(), "batches": "nope"}, None)


def test_local_run_uses_sqlite_and_the_console(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "home" / "crawlmap.db"
    notify = tmp_path / "runs" / "run-1" / "notification.jsonl"
    monkeypatch.setenv("CRAWLMAP_SQLITE_PATH", str(db))
    monkeypatch.setenv("CRAWLMAP_NOTIFY_FILE", str(notify))
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    store_handler.storing_context.cache_clear()
    try:
        summary = store_handler.handler(inline_event(), None)
    finally:
        store_handler.storing_context.cache_clear()

    assert SQLiteStore(db).list_runs(5) == [summary]
    [line] = notify.read_text().splitlines()
    note = json.loads(line)
    assert note["subject"] == "crawlmap run run-1: 3 ok, 1 failed, 1 changed, 1 new"
    assert json.loads(note["message"].splitlines()[-1]) == summary
    assert note["subject"] in capsys.readouterr().out


def test_result_files_stream_from_s3_across_any_chunk_boundary(deployed_env: AwsClients) -> None:
    aws = deployed_env
    location = distributed_event(aws)["batches"]
    whole = list(run_results(location, S3ResultReader(client=aws.s3)))
    for chunk_bytes in (1, 7, 100):
        reader = S3ResultReader(client=aws.s3, chunk_bytes=chunk_bytes)
        assert list(run_results(location, reader)) == whole
    assert len(whole) == 6
