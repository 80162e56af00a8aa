"""The page results of the distributed path, read from S3 (docs/CONTRACT.md, "Shapes").

ListPages wrote the plan: `lanes.json` (LaneRef per lane) and each batch as
`<batches_prefix><i>.json`. Each CrawlBatchDistributed wrote its BatchResult to
`<results_prefix><lane_id>/<i>.json`. So the plan, not the Map's output, says what to expect:
1. every results object under results_prefix is read (streamed: one page result at a time);
2. every planned batch without a results object is failed, page by page, with the best reason
   known: its RecordFailureDistributed record, else its lane's failed child execution (both
   from the ResultWriter's files), else the Map's caught error, else NotCrawled.
After a caught Map failure the ResultWriter's manifest is not in the input; its files, when
AWS wrote them, are found under the same prefix.

v0.1's layout (child outputs holding whole BatchResults) is still read from the manifest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from lambdas.common.errors import InvalidInputError
from lambdas.common.models import PageResult, RunInfo
from lambdas.store_and_notify.batches import batch_results, checked_result, page_url, page_urls
from lambdas.store_and_notify.failures import NOT_CRAWLED, Reason, failure_results
from lambdas.store_and_notify.jsonstream import iter_json_array, iter_member_array

# ResultWriter groups child executions by status; SUCCEEDED first keeps first_failures stable.
RESULT_FILE_STATUSES = ("SUCCEEDED", "FAILED", "PENDING")
MANIFEST_NAME = "manifest.json"
FIELD = "lanes.result_writer"
LEGACY_FIELD = "batches.result_writer"


class ResultReader(Protocol):
    def read_bytes(self, bucket: str, key: str) -> bytes:
        """A small object whole (the manifest)."""
        ...

    def iter_chunks(self, bucket: str, key: str) -> Iterable[bytes]:
        """A large object piece by piece (a result file, a results object)."""
        ...

    def list_keys(self, bucket: str, prefix: str) -> Iterable[str]:
        """Every key under prefix."""
        ...


# ---------------------------------------------------------------- ResultWriter files


@dataclass(frozen=True)
class ResultFile:
    status: str
    bucket: str
    key: str


def parse_manifest(
    manifest: object, default_bucket: str, field: str = LEGACY_FIELD
) -> list[ResultFile]:
    """The result files a ResultWriter manifest.json names, SUCCEEDED first."""
    if not isinstance(manifest, Mapping) or not isinstance(manifest.get("ResultFiles"), Mapping):
        raise InvalidInputError(field, "manifest.json has no ResultFiles")
    bucket = manifest.get("DestinationBucket") or default_bucket
    if not isinstance(bucket, str):
        raise InvalidInputError(field, "manifest.json DestinationBucket must be a string")
    files: list[ResultFile] = []
    for status in RESULT_FILE_STATUSES:
        entries = manifest["ResultFiles"].get(status) or []
        if not isinstance(entries, list):
            raise InvalidInputError(field, f"manifest.json ResultFiles.{status} must be a list")
        for entry in entries:
            key = entry.get("Key") if isinstance(entry, Mapping) else None
            if not isinstance(key, str):
                raise InvalidInputError(field, f"manifest.json ResultFiles.{status} needs Keys")
            files.append(ResultFile(status=status, bucket=bucket, key=key))
    return files


def _json_field(record: Mapping[str, Any], name: str, where: str, field: str) -> Any:
    value = record.get(name)
    if not isinstance(value, str):
        return None
    try:
        return json.loads(value)
    except ValueError:
        raise InvalidInputError(field, f"{where}: {name} is not JSON") from None


def _manifest_location(location: object, field: str) -> tuple[str, str]:
    if not isinstance(location, Mapping):
        raise InvalidInputError(field, "must be {'Bucket': ..., 'Key': <manifest.json key>}")
    bucket, key = location.get("Bucket"), location.get("Key")
    if not isinstance(bucket, str) or not isinstance(key, str):
        raise InvalidInputError(field, "needs the manifest's Bucket and Key as strings")
    return bucket, key


def child_records(
    bucket: str, key: str, reader: ResultReader, field: str
) -> Iterator[tuple[Mapping[str, Any], str]]:
    """Every child-execution record of the result files a manifest names, with its place."""
    try:
        manifest = json.loads(reader.read_bytes(bucket, key))
    except ValueError:
        raise InvalidInputError(field, f"s3://{bucket}/{key} is not JSON") from None
    for result_file in parse_manifest(manifest, bucket, field):
        source = f"s3://{result_file.bucket}/{result_file.key}"
        chunks = reader.iter_chunks(result_file.bucket, result_file.key)
        for index, record in enumerate(iter_json_array(chunks, source, field)):
            where = f"{source}[{index}]"
            if not isinstance(record, Mapping):
                raise InvalidInputError(field, f"{where}: not an execution record")
            yield record, where


# ---------------------------------------------------------------- failure reasons


def _lane_id(value: object) -> int | None:
    """The lane_id of a lane's input (a LaneRef, possibly wrapped one level by ItemSelector)."""
    if not isinstance(value, Mapping):
        return None
    lane_id = value.get("lane_id")
    if isinstance(lane_id, int) and not isinstance(lane_id, bool):
        return lane_id
    for inner in value.values():
        if isinstance(inner, Mapping) and isinstance(inner.get("lane_id"), int):
            return int(inner["lane_id"])
    return None


def _batch_outputs(output: object) -> Iterator[Mapping[str, Any]]:
    """The per-batch outputs in a lane's output (a list, or a list inside its object)."""
    if isinstance(output, list):
        yield from (item for item in output if isinstance(item, Mapping))
    elif isinstance(output, Mapping):
        if "failure" in output:
            yield output
        for value in output.values():
            if isinstance(value, list):
                yield from (item for item in value if isinstance(item, Mapping))


@dataclass
class FailureReasons:
    """Why batches have no results object, as the ResultWriter's files tell it."""

    batches: dict[tuple[int, int], Reason] = field(default_factory=dict)
    lanes: dict[int, Reason] = field(default_factory=dict)

    def add_child(self, record: Mapping[str, Any], where: str) -> None:
        given = _json_field(record, "Input", where, FIELD)
        lane_id = _lane_id(given)
        if record.get("Status", "SUCCEEDED") != "SUCCEEDED" and lane_id is not None:
            error = record.get("Error") or f"States.{record.get('Status')}"
            self.lanes.setdefault(lane_id, Reason(error=error, cause=record.get("Cause")))
        for item in _batch_outputs(_json_field(record, "Output", where, FIELD)):
            reason = Reason.of(item.get("failure"))
            index = item.get("batch_index")
            lane = item.get("lane_id", lane_id)
            if reason is not None and isinstance(index, int) and isinstance(lane, int):
                self.batches[(lane, index)] = reason

    def for_batch(self, lane_id: int, index: int) -> Reason | None:
        return self.batches.get((lane_id, index)) or self.lanes.get(lane_id)


# ---------------------------------------------------------------- the plan


@dataclass(frozen=True)
class PlannedBatch:
    lane_id: int
    index: int
    batch_key: str
    results_key: str


def _location(value: object, field: str) -> tuple[str, str]:
    if not isinstance(value, Mapping):
        raise InvalidInputError(field, "must be {'bucket': ..., 'key': ...}")
    bucket, key = value.get("bucket"), value.get("key")
    if not isinstance(bucket, str) or not isinstance(key, str) or not bucket or not key:
        raise InvalidInputError(field, "needs bucket and key as non-empty strings")
    return bucket, key


def planned_batches(
    bucket: str, key: str, results_prefix: str, reader: ResultReader
) -> Iterator[PlannedBatch]:
    """Every batch lanes.json plans, streamed (a LaneRef at a time)."""
    source = f"s3://{bucket}/{key}"
    field = "run.lanes_location"
    for index, lane in enumerate(iter_json_array(reader.iter_chunks(bucket, key), source, field)):
        lane_id = lane.get("lane_id") if isinstance(lane, Mapping) else None
        count = lane.get("batch_count") if isinstance(lane, Mapping) else None
        prefix = lane.get("batches_prefix") if isinstance(lane, Mapping) else None
        if (
            not isinstance(lane_id, int)
            or not isinstance(count, int)
            or not isinstance(prefix, str)
        ):
            raise InvalidInputError(
                field,
                f"{source}[{index}]: must be a LaneRef (lane_id, batch_count, batches_prefix)",
            )
        for batch_index in range(count):
            yield PlannedBatch(
                lane_id=lane_id,
                index=batch_index,
                batch_key=f"{prefix}{batch_index}.json",
                results_key=f"{results_prefix}{lane_id}/{batch_index}.json",
            )


def _results_object(bucket: str, key: str, reader: ResultReader) -> Iterator[PageResult]:
    source = f"s3://{bucket}/{key}"
    field = "run.results_prefix"
    results = iter_member_array(reader.iter_chunks(bucket, key), "results", source, field)
    for index, result in enumerate(results):
        yield checked_result(result, f"{source} results[{index}]")


def _batch_page_urls(bucket: str, key: str, reader: ResultReader) -> Iterator[str]:
    source = f"s3://{bucket}/{key}"
    pages = iter_member_array(
        reader.iter_chunks(bucket, key), "pages", source, "run.lanes_location"
    )
    for index, page in enumerate(pages):
        yield page_url(page, f"{source} pages[{index}]")


def distributed_results(
    run: RunInfo, lanes: object, map_error: Reason | None, reader: ResultReader
) -> Iterator[PageResult]:
    """Every page result of a distributed run (see the module's docstring)."""
    bucket, lanes_key = _location(run.get("lanes_location"), "run.lanes_location")
    results_prefix = run.get("results_prefix")
    if not isinstance(results_prefix, str) or not results_prefix:
        raise InvalidInputError("run.results_prefix", "must be the results' S3 key prefix")
    results_prefix = results_prefix if results_prefix.endswith("/") else results_prefix + "/"
    existing = set(reader.list_keys(bucket, results_prefix))
    reasons = FailureReasons()
    if isinstance(lanes, Mapping) and "result_writer" in lanes:
        manifests = [_manifest_location(lanes["result_writer"], FIELD)]
    else:  # after a caught Map failure: whatever the ResultWriter managed to write
        manifests = [(bucket, k) for k in sorted(existing) if k.endswith("/" + MANIFEST_NAME)]
    for manifest_bucket, manifest_key in manifests:
        for record, where in child_records(manifest_bucket, manifest_key, reader, FIELD):
            reasons.add_child(record, where)

    missing: list[PlannedBatch] = []
    planned: set[str] = set()
    for batch in planned_batches(bucket, lanes_key, results_prefix, reader):
        planned.add(batch.results_key)
        if batch.results_key in existing:
            yield from _results_object(bucket, batch.results_key, reader)
        else:
            missing.append(batch)
    # A results object the plan does not name (nothing should write one): still not lost.
    stray = re.compile(re.escape(results_prefix) + r"\d+/\d+\.json")
    for key in sorted(existing - planned):
        if stray.fullmatch(key):
            yield from _results_object(bucket, key, reader)
    for batch in missing:
        reason = reasons.for_batch(batch.lane_id, batch.index) or map_error
        if reason is None:
            reason = Reason(NOT_CRAWLED, f"no result for lane {batch.lane_id} batch {batch.index}")
        urls = _batch_page_urls(bucket, batch.batch_key, reader)
        yield from failure_results(urls, reason.error, reason.cause)


# ---------------------------------------------------------------- v0.1 layout


def child_results(record: object, where: str) -> Iterator[PageResult]:
    """The page results of one v0.1 child execution record (its Output a BatchResult)."""
    if not isinstance(record, Mapping):
        raise InvalidInputError(LEGACY_FIELD, f"{where}: not an execution record")
    output = _json_field(record, "Output", where, LEGACY_FIELD)
    if record.get("Status", "SUCCEEDED") == "SUCCEEDED" and output is not None:
        yield from batch_results(output, where)
        return
    # The child failed as a whole (timeout, abort, error RecordFailure did not catch):
    # every page it was given becomes a failed record.
    given = _json_field(record, "Input", where, LEGACY_FIELD)
    if not isinstance(given, Mapping):
        raise InvalidInputError(LEGACY_FIELD, f"{where}: failed child has no Input")
    error = record.get("Error") or f"States.{record.get('Status')}"
    urls = page_urls(given.get("pages"), f"{where} Input.pages")
    yield from failure_results(urls, error, record.get("Cause"))


def legacy_distributed_results(location: object, reader: ResultReader) -> Iterator[PageResult]:
    """Every page result of a v0.1 distributed run, streamed file by file."""
    bucket, key = _manifest_location(location, LEGACY_FIELD)
    for record, where in child_records(bucket, key, reader, LEGACY_FIELD):
        yield from child_results(record, where)
