"""boto3 clients, created on first use and reused across invocations of a warm Lambda.

Nothing here runs at import time. Tests that start a fresh moto mock call `reset_clients()`
so the next call builds a client inside the mock.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient

# Standard retry mode backs off on throttling; adaptive would add client-side rate limiting
# we do not need for a few requests per batch.
_CONFIG = Config(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=16)
_clients: dict[str, Any] = {}
_lock = threading.Lock()


def _client(service: str) -> Any:
    with _lock:
        existing = _clients.get(service)
        if existing is None:
            existing = boto3.client(service, config=_CONFIG)  # type: ignore[call-overload]
            _clients[service] = existing
        return existing


def s3_client() -> S3Client:
    client: S3Client = _client("s3")
    return client


def dynamodb_client() -> DynamoDBClient:
    client: DynamoDBClient = _client("dynamodb")
    return client


def sns_client() -> SNSClient:
    client: SNSClient = _client("sns")
    return client


def reset_clients() -> None:
    """Forget every cached client (tests: a new moto mock needs new clients)."""
    with _lock:
        _clients.clear()
