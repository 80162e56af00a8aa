"""CrawlBatchDistributed through the handler (PLAN.md, "Shapes (distributed)"): the Batch read
from S3, the BatchResult written to S3, a small record returned; host notes in DynamoDB. moto
stands in for S3 and DynamoDB, a real server on 127.0.0.1 for the site."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from lambdas.common import env
from lambdas.common.errors import InvalidInputError
from lambdas.common.host_keys import host_key
from lambdas.common.models import HostNote
from lambdas.common.store import DynamoDBStore
from lambdas.crawl_batch.handler import handler
from tests.lambdas.crawl_support import ScenarioServer, running_server
from tests.lambdas.data_support import AwsClients, aws  # noqa: F401 - the fixture

RUN = "exec-dist"


@pytest.fixture
def site() -> Iterator[ScenarioServer]:
    with running_server() as server:
        yield server


@pytest.fixture
def crawl_env(aws: AwsClients, monkeypatch: pytest.MonkeyPatch) -> AwsClients:  # noqa: F811
    monkeypatch.setenv(env.ALLOW_PRIVATE_NETWORKS, "true")
    monkeypatch.setenv(env.OBEY_ROBOTS, "false")
    monkeypatch.setenv(env.TABLE_NAME, aws.table)
    monkeypatch.setenv(env.BUCKET_NAME, aws.bucket)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    return aws


def put_batch(aws: AwsClients, key: str, batch: dict[str, Any]) -> None:  # noqa: F811
    aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=json.dumps(batch).encode())


def event(aws: AwsClients, lane: int, index: int) -> dict[str, Any]:  # noqa: F811
    return {
        "run_id": RUN,
        "lane_id": lane,
        "batch_index": index,
        "batch_location": {"bucket": aws.bucket, "key": f"runs/{RUN}/lanes/{lane}/{index}.json"},
        "results_location": {
            "bucket": aws.bucket,
            "key": f"runs/{RUN}/results/{lane}/{index}.json",
        },
        "retry_count": 0,
    }


def test_reads_the_batch_writes_the_result_returns_a_small_record(
    crawl_env: AwsClients, site: ScenarioServer
) -> None:
    site.html("/a", "<title>A</title>")
    site.html("/b", "gone", status=410)
    put_batch(
        crawl_env,
        f"runs/{RUN}/lanes/2/0.json",
        {
            "batch_id": 17,
            "lane_id": 2,
            "pages": [
                {"url": site.url("/a"), "previous": None},
                {"url": site.url("/b"), "previous": None},
            ],
            "hosts": {host_key(site.origin): {"concurrency": 2, "delay_s": 0.0}},
        },
    )
    output = handler(event(crawl_env, 2, 0), None)
    assert output == {
        "batch_id": 17,
        "lane_id": 2,
        "results_key": f"runs/{RUN}/results/2/0.json",
        "pages": 2,
        "counts": {"ok": 1, "failed": 1, "skipped": 0},  # for progress; the state drops it
    }
    stored = json.loads(
        crawl_env.s3.get_object(Bucket=crawl_env.bucket, Key=f"runs/{RUN}/results/2/0.json")[
            "Body"
        ].read()
    )
    assert stored["batch_id"] == 17
    assert [(r["url"], r["outcome"], r["title"]) for r in stored["results"]] == [
        (site.url("/a"), "new", "A"),
        (site.url("/b"), "failed", None),
    ]


def test_host_notes_in_dynamodb_hold_across_lanes(
    crawl_env: AwsClients, site: ScenarioServer
) -> None:
    site.html("/a", "<title>A</title>")
    DynamoDBStore(crawl_env.table).put_host_note(
        RUN, host_key(site.origin), HostNote(not_before=time.time() + 600, reason="HTTP 429")
    )
    put_batch(
        crawl_env,
        f"runs/{RUN}/lanes/0/0.json",
        {"batch_id": 0, "pages": [{"url": site.url("/a"), "previous": None}]},
    )
    handler(event(crawl_env, 0, 0), None)
    stored = json.loads(
        crawl_env.s3.get_object(Bucket=crawl_env.bucket, Key=f"runs/{RUN}/results/0/0.json")[
            "Body"
        ].read()
    )
    [result] = stored["results"]
    assert result["outcome"] == "failed"
    assert result["error"].startswith("host backed off for this run (HTTP 429)")
    assert site.hits("/a") == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"batch_location": None}, "batch_location: must be an object with bucket and key"),
        ({"lane_id": "x"}, "lane_id: must be a whole number >= 0"),
        ({"results_location": {"bucket": "b"}}, "results_location.key: must be a non-empty string"),
    ],
)
def test_bad_distributed_events_name_the_field(
    crawl_env: AwsClients, change: dict[str, Any], message: str
) -> None:
    bad = {**event(crawl_env, 0, 0), **change}
    with pytest.raises(InvalidInputError) as caught:
        handler(bad, None)
    assert str(caught.value).startswith(message)


def test_a_bad_batch_object_names_the_object_and_field(crawl_env: AwsClients) -> None:
    put_batch(crawl_env, f"runs/{RUN}/lanes/0/0.json", {"batch_id": 0, "pages": []})
    with pytest.raises(InvalidInputError) as caught:
        handler(event(crawl_env, 0, 0), None)
    assert str(caught.value).startswith(
        f"s3://{crawl_env.bucket}/runs/{RUN}/lanes/0/0.json: pages: must be a non-empty list"
    )
