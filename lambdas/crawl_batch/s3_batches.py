"""CrawlBatchDistributed's event form: the Batch is read from S3, its BatchResult written there.

A minimal adapter (the lanes change) so that the distributed lanes run before CrawlBatch's own
S3 batch I/O lands (the crawl change replaces it): `{"run_id", "lane_id", "batch_index",
"batch_location", "results_location", "retry_count"}` -> the inline event -> the core ->
the BatchResult written to results_location -> `{"batch_id", "lane_id", "results_key", "pages"}`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from lambdas.common.errors import InvalidInputError
from lambdas.common.models import BatchResult

CrawlInline = Callable[[dict[str, Any], Any], BatchResult]


def is_distributed_event(event: object) -> bool:
    return isinstance(event, Mapping) and "batch_location" in event


def _location(event: Mapping[str, Any], name: str) -> tuple[str, str]:
    value = event.get(name)
    if not isinstance(value, Mapping):
        raise InvalidInputError(name, "must be {'bucket': ..., 'key': ...}")
    bucket, key = value.get("bucket"), value.get("key")
    if not isinstance(bucket, str) or not bucket or not isinstance(key, str) or not key:
        raise InvalidInputError(name, "needs bucket and key as non-empty strings")
    return bucket, key


def crawl_s3_batch(event: Mapping[str, Any], context: Any, crawl: CrawlInline) -> dict[str, Any]:
    from lambdas.common.aws import s3_client

    batch_bucket, batch_key = _location(event, "batch_location")
    results_bucket, results_key = _location(event, "results_location")
    s3 = s3_client()
    try:
        batch = json.loads(s3.get_object(Bucket=batch_bucket, Key=batch_key)["Body"].read())
    except ValueError:
        problem = f"s3://{batch_bucket}/{batch_key} is not JSON"
        raise InvalidInputError("batch_location", problem) from None
    if not isinstance(batch, dict):
        raise InvalidInputError("batch_location", "must hold a Batch object")
    inline = {
        **batch,
        "run_id": event.get("run_id"),
        "lane_id": event.get("lane_id", batch.get("lane_id")),
    }
    if event.get("retry_count") is not None:
        inline["retry_count"] = event["retry_count"]
    result = crawl(inline, context)
    body = json.dumps(result, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    s3.put_object(Bucket=results_bucket, Key=results_key, Body=body, ContentType="application/json")
    return {
        "batch_id": result["batch_id"],
        "lane_id": inline["lane_id"],
        "results_key": results_key,
        "pages": len(result["results"]),
    }
