"""The deployed store: one DynamoDB table with `pk`/`sk` string keys and TTL `expires_at`
(the items, and how each is written and read, are in dynamodb_items.py).

STATE items are written one by one with a condition (NOT_NEWER), never read first: two
overlapping runs cannot race (v0.1 read the state, then wrote it in a BatchWriteItem, so an
older run could overwrite a newer state written in between). `unchanged` results use an
UpdateItem that sets only what they know, so nothing needs reading to merge, and ALL_NEW
returns the page as last seen to complete the result with.

Measured with moto, 100 results (bench: counting client calls), v0.1 -> v0.2:
- requests: 1 BatchGetItem + 8 BatchWriteItem -> 100 PutItem/UpdateItem + 4 BatchWriteItem
  (16 threads hide the round trips: STATE writes are 1 request each);
- capacity: 100 consistent RRU + 200 WRU -> 0 RRU + 200 WRU (a STATE item with its seen
  fields is ~0.55 KB, under the 1 KB of one WRU; a failed condition is billed 1 WRU too).
  On demand (us-east-1, $0.625 per million WRU, $0.125 per million RRU) 100,000 pages cost
  $0.1375 -> $0.125 of DynamoDB. TransactWriteItems would bill 2 WRU per STATE item:
  300 WRU per 100 pages, $0.1875 per 100,000: rejected, since single-item conditions suffice
  (no write spans two items that must change together).
"""

from __future__ import annotations

import json
import random
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from lambdas.common.models import HostNote, PageResult, PreviousState, RunSummary
from lambdas.common.store.dynamodb_items import (
    LEASE_KEY,
    NOT_NEWER,
    lease_from_item,
    lease_item,
    loads_summary,
    merge_update,
    note_from_item,
    state_from_item,
    state_item,
)
from lambdas.common.store.keys import (
    chunked,
    expires_at,
    host_note_key,
    instant_key,
    page_key,
    run_key,
    runs_sort_key,
)
from lambdas.common.store.lastseen import carry_forward
from lambdas.common.store.latest import (
    StateWrite,
    follow_aliases,
    previous_from_state,
    state_url,
    state_writes,
    unique_by_url,
)
from lambdas.common.store.model import PageState, RunLease, StoreError, later_note

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# DynamoDB limits: 25 items per BatchWriteItem, 100 keys per BatchGetItem.
WRITE_BATCH_SIZE = 25
GET_BATCH_SIZE = 100
MAX_RETRY_ATTEMPTS = 8
READ_THREADS = 8
WRITE_THREADS = 16  # = the boto3 client's connection pool (lambdas/common/aws.py)


class DynamoDBStore:
    """The Store on DynamoDB (the table the stack creates; boto3 client made on first use)."""

    def __init__(
        self,
        table_name: str,
        *,
        ttl_days: int = 90,
        client: DynamoDBClient | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table_name = table_name
        self.ttl_days = ttl_days
        self._client = client
        self._sleep = sleep
        self._clock = clock

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            from lambdas.common.aws import dynamodb_client

            self._client = dynamodb_client()
        return self._client

    def _backoff(self, attempt: int) -> None:
        # Full jitter, as AWS recommends for retrying unprocessed batch items.
        self._sleep(random.uniform(0, min(2.0, 0.05 * 2**attempt)))  # noqa: S311

    # -- reads

    def _get_items(
        self, keys: list[dict[str, Any]], *, consistent: bool
    ) -> Iterator[dict[str, Any]]:
        for chunk in chunked(keys, GET_BATCH_SIZE):
            request: dict[str, Any] = {
                self.table_name: {"Keys": chunk, "ConsistentRead": consistent}
            }
            for attempt in range(MAX_RETRY_ATTEMPTS + 1):
                response = self.client.batch_get_item(RequestItems=request)
                yield from response.get("Responses", {}).get(self.table_name, [])
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                if attempt == MAX_RETRY_ATTEMPTS:
                    raise StoreError(f"{self.table_name}: keys still unprocessed after retries")
                self._backoff(attempt)

    def _states(self, urls: Iterable[str], *, consistent: bool) -> dict[str, PageState]:
        unique = list(dict.fromkeys(urls))
        keys = [{"pk": {"S": page_key(url)}, "sk": {"S": "STATE"}} for url in unique]
        states: dict[str, PageState] = {}
        for item in self._get_items(keys, consistent=consistent):
            state = state_from_item(item)
            states[state["url"]] = state
        return states

    def _previous_group(self, urls: list[str]) -> dict[str, PreviousState]:
        states = follow_aliases(urls, lambda some: self._states(some, consistent=False))
        return {url: previous_from_state(state) for url, state in states.items()}

    def previous_states(self, urls: Iterable[str]) -> dict[str, PreviousState]:
        # 100,000 pages are 1,000 BatchGetItem calls: a few threads (boto3 clients are
        # thread-safe) cut ListPages' wait roughly by their number.
        groups = list(chunked(dict.fromkeys(urls), GET_BATCH_SIZE * 5))
        with ThreadPoolExecutor(max_workers=max(1, min(READ_THREADS, len(groups)))) as pool:
            found = pool.map(self._previous_group, groups)
            return {url: previous for part in found for url, previous in part.items()}

    def aliases(self, urls: Iterable[str]) -> dict[str, str]:
        states = self._states(urls, consistent=False)
        return {url: str(s["alias_of"]) for url, s in states.items() if s.get("alias_of")}

    def get_summary(self, run_id: str) -> RunSummary | None:
        response = self.client.get_item(
            TableName=self.table_name,
            Key={"pk": {"S": run_key(run_id)}, "sk": {"S": "SUMMARY"}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return None if item is None else loads_summary(item["data"]["S"])

    def list_runs(self, limit: int = 20) -> list[RunSummary]:
        summaries: list[RunSummary] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :runs",
            "ExpressionAttributeValues": {":runs": {"S": "RUNS"}},
            "ScanIndexForward": False,
        }
        while len(summaries) < limit:
            response = self.client.query(**kwargs, Limit=limit - len(summaries))
            summaries.extend(loads_summary(item["data"]["S"]) for item in response["Items"])
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return summaries

    def run_results(self, run_id: str) -> Iterator[PageResult]:
        paginator = self.client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self.table_name,
            KeyConditionExpression="pk = :run AND begins_with(sk, :page)",
            ExpressionAttributeValues={":run": {"S": run_key(run_id)}, ":page": {"S": "PAGE#"}},
        )
        for page in pages:
            for item in page["Items"]:
                result: PageResult = json.loads(item["data"]["S"])
                yield result

    # -- host notes

    def host_notes(self, run_id: str, hosts: Iterable[str]) -> dict[str, HostNote]:
        # One BatchGetItem per 100 hosts; consistent, so a note another lane has just
        # written is seen by the next batch that starts.
        unique = list(dict.fromkeys(hosts))
        keys = [{"pk": {"S": run_key(run_id)}, "sk": {"S": host_note_key(host)}} for host in unique]
        return {
            item["host"]["S"]: note_from_item(item)
            for item in self._get_items(keys, consistent=True)
        }

    def put_host_note(self, run_id: str, host: str, note: HostNote) -> HostNote:
        # Conditional: two lanes backing off one host at once keep the later not_before,
        # whichever writes last. Expires like the run's other items (from now: the note
        # does not know the run's start, and only matters while the run lasts).
        expiry = int(self._clock()) + self.ttl_days * 86_400
        key = {"pk": {"S": run_key(run_id)}, "sk": {"S": host_note_key(host)}}
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    **key,
                    "host": {"S": host},
                    "not_before": {"N": repr(float(note["not_before"]))},
                    "reason": {"S": note["reason"]},
                    "expires_at": {"N": str(expiry)},
                },
                ConditionExpression="attribute_not_exists(pk) OR not_before < :candidate",
                ExpressionAttributeValues={":candidate": {"N": repr(float(note["not_before"]))}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            old = self._blocking_item(exc, key)
            return later_note(note_from_item(old) if old else None, note)
        return note

    # -- the run lease

    def acquire_run_lease(self, lease: RunLease, now: float) -> RunLease:
        # One conditional PutItem: two ListPages racing for a free lease cannot both win.
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={**LEASE_KEY, **lease_item(lease)},
                ConditionExpression=(
                    "attribute_not_exists(pk) OR run_id = :run OR expires_at <= :now"
                ),
                ExpressionAttributeValues={
                    ":run": {"S": lease["run_id"]},
                    ":now": {"N": repr(float(now))},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            old = self._blocking_item(exc, LEASE_KEY)
            if not old:  # released between our write and our read: try once more
                return self.acquire_run_lease(lease, now)
            return lease_from_item(old)
        return lease

    def _blocking_item(self, failed: Exception, key: dict[str, Any]) -> dict[str, Any] | None:
        """The item whose condition refused a write: from the failure (ALL_OLD), or read
        consistently when the failure did not carry it."""
        old: dict[str, Any] | None = dict(getattr(failed, "response", {})).get("Item")
        if old:
            return old
        found = self.client.get_item(TableName=self.table_name, Key=key, ConsistentRead=True)
        item: dict[str, Any] | None = found.get("Item")
        return item

    def release_run_lease(self, run_id: str) -> bool:
        try:
            self.client.delete_item(
                TableName=self.table_name,
                Key=LEASE_KEY,
                ConditionExpression="run_id = :run",
                ExpressionAttributeValues={":run": {"S": run_id}},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False  # another run's lease, or none: not ours to drop
        return True

    # -- writes

    def _write_items(self, items: list[dict[str, Any]]) -> int:
        for chunk in chunked(items, WRITE_BATCH_SIZE):
            request: dict[str, Any] = {
                self.table_name: [{"PutRequest": {"Item": item}} for item in chunk]
            }
            for attempt in range(MAX_RETRY_ATTEMPTS + 1):
                response = self.client.batch_write_item(RequestItems=request)
                request = response.get("UnprocessedItems") or {}
                if not request:
                    break
                if attempt == MAX_RETRY_ATTEMPTS:
                    raise StoreError(f"{self.table_name}: items still unprocessed after retries")
                self._backoff(attempt)
        return len(items)

    def save_results(self, run_id: str, results: Iterable[PageResult], started_at: str) -> int:
        expiry = {"N": str(expires_at(started_at, self.ttl_days))}
        written = 0
        # Chunks of 100, several in flight: a chunk's states are written item by item (see
        # the module's docstring), so the threads hide the round trips; at most
        # 2 x WRITE_THREADS chunks are held, so memory stays bounded.
        with ThreadPoolExecutor(max_workers=WRITE_THREADS) as pool:
            pending: deque[Future[int]] = deque()
            for raw_chunk in chunked(results, GET_BATCH_SIZE):
                chunk = unique_by_url(raw_chunk)
                pending.append(pool.submit(self._save_chunk, run_id, chunk, started_at, expiry))
                if len(pending) >= 2 * WRITE_THREADS:
                    written += pending.popleft().result()
            while pending:
                written += pending.popleft().result()
        return written

    def _save_chunk(
        self, run_id: str, chunk: list[PageResult], started_at: str, expiry: dict[str, str]
    ) -> int:
        # States first: an unchanged result is completed from what its write returns.
        by_url: dict[str, list[StateWrite]] = {}
        for result in chunk:
            for write in state_writes(result, run_id, started_at):
                by_url.setdefault(write.state["url"], []).append(write)
        after: dict[str, dict[str, Any]] = {}
        for url, writes in by_url.items():  # one key's writes in order: the last one counts
            for write in writes:
                item = self._write_state(write)
                if item is not None:
                    after[url] = item
        for result in chunk:
            if result["outcome"] == "unchanged" and state_url(result) in after:
                carry_forward(result, state_from_item(after[state_url(result)]).get("seen"))
        items: list[dict[str, Any]] = [
            {
                "pk": {"S": run_key(run_id)},
                "sk": {"S": page_key(result["url"])},
                "url": {"S": result["url"]},
                "outcome": {"S": result["outcome"]},
                "data": {"S": json.dumps(result, separators=(",", ":"), sort_keys=True)},
                "expires_at": expiry,
            }
            for result in chunk
        ]
        state_count = sum(len(writes) for writes in by_url.values())
        return self._write_items(items) + state_count

    def _write_state(self, write: StateWrite) -> dict[str, Any] | None:
        """Write one state unless a later run's is there; return the item as it now is for an
        `unchanged` merge (what the result is completed with), else None."""
        state = write.state
        condition = {
            ":started_key": {"S": instant_key(state["started_at"])},
            ":started_at": {"S": state["started_at"]},
        }
        try:
            if not write.merge:
                self.client.put_item(
                    TableName=self.table_name,
                    Item=state_item(state),
                    ConditionExpression=NOT_NEWER,
                    ExpressionAttributeValues=condition,
                )
                return None
            update = merge_update(state)
            response = self.client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": page_key(state["url"])}, "sk": {"S": "STATE"}},
                UpdateExpression=update.expression,
                ExpressionAttributeNames=update.names,
                ExpressionAttributeValues={**update.values, **condition},
                ConditionExpression=NOT_NEWER,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return dict(response.get("Attributes") or {}) or None
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            # A run that started later has written this page: keep its state. An unchanged
            # result is still completed from it (the newest description of the page).
            failed: dict[str, Any] = dict(exc.response)
            old: dict[str, Any] | None = failed.get("Item")
            return old if write.merge and old else None

    def save_summary(self, summary: RunSummary) -> int:
        data = {"S": json.dumps(summary, separators=(",", ":"), sort_keys=True)}
        expiry = {"N": str(expires_at(summary["started_at"], self.ttl_days))}
        started = {"S": summary["started_at"]}
        run_item = {
            "pk": {"S": run_key(summary["run_id"])},
            "sk": {"S": "SUMMARY"},
            "data": data,
            "started_at": started,
            "expires_at": expiry,
        }
        index_item = {
            "pk": {"S": "RUNS"},
            "sk": {"S": runs_sort_key(summary["started_at"], summary["run_id"])},
            "run_id": {"S": summary["run_id"]},
            "data": data,
            "started_at": started,
            "expires_at": expiry,
        }
        return self._write_items([run_item, index_item])
