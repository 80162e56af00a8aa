"""Every PageResult of a run, one at a time, from wherever the Map left them.

Inline runs carry the results in the state (batches.py); distributed runs leave them in S3
(distributed.py). Either way every page of the run comes out exactly once: the first record
of a URL wins, and crawled results are read before the failures of batches without them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lambdas.common.errors import InvalidInputError
from lambdas.common.models import PageResult, RunInfo
from lambdas.store_and_notify.batches import (
    batch_results,
    inline_results,
    legacy_inline_results,
    map_failed_results,
)
from lambdas.store_and_notify.distributed import (
    ResultFile,
    ResultReader,
    child_results,
    distributed_results,
    legacy_distributed_results,
    parse_manifest,
)
from lambdas.store_and_notify.failures import Reason, describe_error, failed_result
from lambdas.store_and_notify.jsonstream import iter_json_array, iter_member_array

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = [
    "ResultFile",
    "ResultReader",
    "S3ResultReader",
    "batch_results",
    "child_results",
    "describe_error",
    "failed_result",
    "iter_json_array",
    "iter_member_array",
    "parse_manifest",
    "run_results",
    "unique_results",
]

READ_CHUNK_BYTES = 1024 * 1024


@dataclass
class S3ResultReader:
    """ResultReader on S3; the client is created on first use (and reused)."""

    client: S3Client | None = None
    chunk_bytes: int = READ_CHUNK_BYTES

    def _s3(self) -> S3Client:
        if self.client is None:
            from lambdas.common.aws import s3_client

            self.client = s3_client()
        return self.client

    def read_bytes(self, bucket: str, key: str) -> bytes:
        return self._s3().get_object(Bucket=bucket, Key=key)["Body"].read()

    def iter_chunks(self, bucket: str, key: str) -> Iterator[bytes]:
        body = self._s3().get_object(Bucket=bucket, Key=key)["Body"]
        try:
            yield from body.iter_chunks(self.chunk_bytes)
        finally:
            body.close()

    def list_keys(self, bucket: str, prefix: str) -> Iterator[str]:
        paginator = self._s3().get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield item["Key"]


def unique_results(results: Iterable[PageResult]) -> Iterator[PageResult]:
    """Each URL's first result only. Remembers a 16-byte digest per URL, not the URL:
    100,000 pages cost a few MB whatever their URLs' length."""
    seen: set[bytes] = set()
    for result in results:
        digest = hashlib.blake2b(result["url"].encode("utf-8", "surrogatepass"), digest_size=16)
        key = digest.digest()
        if key not in seen:
            seen.add(key)
            yield result


def run_results(
    batches: object,
    reader: ResultReader,
    *,
    run: RunInfo | None = None,
    map_error: Reason | None = None,
) -> Iterator[PageResult]:
    """The run's page results from StoreAndNotify's `lanes` (or v0.1 `batches`) input.

    With `run` given, `batches` is the new `lanes` input (inline: lists of batch outputs, or
    the original lanes after a caught Map failure; distributed: the ResultWriter details, or
    after a caught Map failure anything). Without it, v0.1's `batches` shapes.
    """
    if run is None:
        return unique_results(_legacy_results(batches, reader))
    if run["mode"] == "distributed" and not run.get("lanes_location"):
        # A v0.1 plan (no lanes.json): the manifest's child outputs hold the results.
        if isinstance(batches, Mapping) and "result_writer" in batches:
            return unique_results(legacy_distributed_results(batches["result_writer"], reader))
        raise InvalidInputError(
            "run.lanes_location", "must locate the distributed run's lanes.json"
        )
    if run["mode"] == "distributed":
        return unique_results(distributed_results(run, batches, map_error, reader))
    if map_error is not None:
        return unique_results(map_failed_results(batches, map_error))
    return unique_results(inline_results(batches))


def _legacy_results(batches: Any, reader: ResultReader) -> Iterator[PageResult]:
    if isinstance(batches, list):
        return legacy_inline_results(batches)
    if isinstance(batches, Mapping) and "result_writer" in batches:
        return legacy_distributed_results(batches["result_writer"], reader)
    raise InvalidInputError(
        "batches", "must be the Map's list of batch results or {'result_writer': {...}}"
    )
