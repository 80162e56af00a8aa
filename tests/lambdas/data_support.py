"""Shared test support for the data side (store, ListPages, StoreAndNotify).

Import fixtures explicitly: `from tests.lambdas.data_support import aws, make_result`.
moto (`mock_aws`) stands in for DynamoDB, S3 and SNS in the `aws` fixture.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

from lambdas.common.aws import reset_clients
from lambdas.common.models import Outcome, PageResult, PageTask
from tests.lambdas.crawl_support import ScenarioServer, running_server

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient

REGION = "us-east-1"
TABLE = "crawlmap-test"
BUCKET = "crawlmap-artifacts-test"


def make_result(
    url: str,
    outcome: Outcome = "new",
    *,
    content_hash: str | None = "sha256:abc",
    etag: str | None = None,
    last_modified: str | None = None,
    error: str | None = None,
    status: int | None = None,
    fetched_at: str | None = "2026-01-01T00:00:01Z",
) -> PageResult:
    ok = outcome in ("new", "changed", "unchanged")
    return PageResult(
        url=url,
        final_url=url if ok else None,
        ok=ok,
        outcome=outcome,
        status=status if status is not None else (200 if ok else None),
        error=error if error is not None or ok else "HTTP 500",
        attempts=1,
        elapsed_ms=12 if ok else None,
        bytes=1000 if ok else None,
        content_type="text/html" if ok else None,
        title="Title" if ok else None,
        description=None,
        canonical=None,
        h1=None,
        links=3 if ok else None,
        words=100 if ok else None,
        content_hash=content_hash if ok else None,
        etag=etag,
        last_modified=last_modified,
        redirects=0,
        extracted={},
        fetched_at=fetched_at if ok else None,
    )


def make_task(url: str) -> PageTask:
    return PageTask(url=url, previous=None)


@dataclass
class AwsClients:
    dynamodb: DynamoDBClient
    s3: S3Client
    sns: SNSClient
    table: str
    bucket: str
    topic_arn: str
    queue_url: str


def create_table(client: DynamoDBClient, name: str = TABLE) -> None:
    client.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsClients]:
    """moto-backed DynamoDB table, S3 bucket and SNS topic (+ an SQS queue to read the topic)."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        reset_clients()
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        s3 = boto3.client("s3", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        create_table(dynamodb)
        s3.create_bucket(Bucket=BUCKET)
        topic_arn = sns.create_topic(Name="crawlmap-test")["TopicArn"]
        sqs = boto3.client("sqs", region_name=REGION)
        queue_url = sqs.create_queue(QueueName="crawlmap-test-notifications")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        sns.subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"]
        )
        yield AwsClients(dynamodb, s3, sns, TABLE, BUCKET, topic_arn, queue_url)
        reset_clients()


def published_messages(clients: AwsClients) -> list[dict[str, Any]]:
    """What reached the topic's SQS subscriber: [{"subject", "message"}] in publish order."""
    sqs = boto3.client("sqs", region_name=REGION)
    received: list[dict[str, Any]] = []
    while True:
        response = sqs.receive_message(QueueUrl=clients.queue_url, MaxNumberOfMessages=10)
        messages = response.get("Messages", [])
        if not messages:
            return received
        for message in messages:
            body = json.loads(message["Body"])
            received.append({"subject": body.get("Subject"), "message": body["Message"]})
            sqs.delete_message(QueueUrl=clients.queue_url, ReceiptHandle=message["ReceiptHandle"])


@dataclass
class StaticSite:
    """Fixed bodies per path on 127.0.0.1 (ephemeral port), served by a ScenarioServer."""

    server: ScenarioServer

    @property
    def base(self) -> str:
        return self.server.origin

    @property
    def hits(self) -> list[str]:
        """The paths requested, in order."""
        return [request.path for request in self.server.seen]

    def add(
        self, path: str, body: bytes, content_type: str = "application/xml", *, status: int = 200
    ) -> str:
        self.server.html(path, body, status=status, content_type=content_type)
        return self.server.url(path)


@pytest.fixture
def static_site() -> Iterator[StaticSite]:
    with running_server() as server:
        yield StaticSite(server)


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def child_record(
    batch_id: int,
    urls: list[str],
    *,
    output: Any = None,
    status: str = "SUCCEEDED",
    error: str | None = None,
    cause: str | None = None,
) -> dict[str, Any]:
    """One child-execution record as ResultWriter writes it (AWS format)."""
    child_input = {"run_id": "r", "batch_id": batch_id, "pages": [make_task(u) for u in urls]}
    arn = f"arn:aws:states:{REGION}:123456789012:express:crawl/CrawlPages:{batch_id}"
    record: dict[str, Any] = {
        "ExecutionArn": arn,
        "Input": dumps(child_input),
        "InputDetails": {"Included": True},
        "Name": str(batch_id),
        "StartDate": "2026-01-01T00:00:01.000Z",
        "StateMachineArn": f"arn:aws:states:{REGION}:123456789012:stateMachine:crawl/CrawlPages",
        "Status": status,
        "StopDate": "2026-01-01T00:00:02.000Z",
    }
    if output is not None:
        record["Output"] = dumps(output)
        record["OutputDetails"] = {"Included": True}
    if error is not None:
        record["Error"] = error
    if cause is not None:
        record["Cause"] = cause
    return record


def write_result_writer(
    s3: S3Client, bucket: str, prefix: str, files: dict[str, list[list[dict[str, Any]]]]
) -> str:
    """Write result files and manifest.json under prefix like ResultWriter; return its key."""
    map_run = "a1b2c3"
    result_files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
    for status, contents in files.items():
        for number, records in enumerate(contents):
            key = f"{prefix}/{map_run}/{status}_{number}.json"
            body = json.dumps(records, indent=1).encode()
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            result_files[status].append({"Key": key, "Size": len(body)})
    manifest = {
        "DestinationBucket": bucket,
        "MapRunArn": f"arn:aws:states:{REGION}:123456789012:mapRun:crawl/CrawlPages:{map_run}",
        "ResultFiles": result_files,
    }
    manifest_key = f"{prefix}/{map_run}/manifest.json"
    s3.put_object(Bucket=bucket, Key=manifest_key, Body=dumps(manifest).encode())
    return manifest_key
