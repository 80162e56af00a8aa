"""The deployed store: one DynamoDB table with `pk`/`sk` string keys and TTL `expires_at`.

Items (docs/CONTRACT.md, "Store"):
- `PAGE#<url>` / `STATE`: the page's latest successful state (no TTL),
- `RUN#<run>` / `PAGE#<url>`: one PageResult per page per run,
- `RUN#<run>` / `SUMMARY` and `RUNS` / `<started_at>#<run>`: the run record and its index,
- `RUN#<run>` / `HOST#<host key>`: a host note (Retry-After back-off for the run).
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
from lambdas.common.store.keys import (
    chunked,
    expires_at,
    host_key,
    page_key,
    run_key,
    runs_sort_key,
)
from lambdas.common.store.latest import (
    plan_state_writes,
    previous_from_state,
    state_from_result,
    unique_by_url,
)
from lambdas.common.store.model import PageState, StoreError, later_note

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# DynamoDB limits: 25 items per BatchWriteItem, 100 keys per BatchGetItem.
WRITE_BATCH_SIZE = 25
GET_BATCH_SIZE = 100
MAX_RETRY_ATTEMPTS = 8
READ_THREADS = 8
WRITE_THREADS = 4


def _s(value: str | None) -> dict[str, Any]:
    return {"NULL": True} if value is None else {"S": value}


def _str_or_none(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    if value is None or "NULL" in value:
        return None
    return str(value["S"])


def _note_from_item(item: dict[str, Any]) -> HostNote:
    return HostNote(not_before=float(item["not_before"]["N"]), reason=item["reason"]["S"])


def _loads_summary(text: str) -> RunSummary:
    summary: RunSummary = json.loads(text)
    return summary


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
            url = item["url"]["S"]
            states[url] = PageState(
                url=url,
                etag=_str_or_none(item, "etag"),
                last_modified=_str_or_none(item, "last_modified"),
                content_hash=_str_or_none(item, "content_hash"),
                run_id=item["run_id"]["S"],
                fetched_at=_str_or_none(item, "fetched_at"),
                started_at=item["started_at"]["S"],
            )
        return states

    def previous_states(self, urls: Iterable[str]) -> dict[str, PreviousState]:
        # 100,000 pages are 1,000 BatchGetItem calls: a few threads (boto3 clients are
        # thread-safe) cut ListPages' wait roughly by their number.
        groups = list(chunked(dict.fromkeys(urls), GET_BATCH_SIZE * 5))
        with ThreadPoolExecutor(max_workers=max(1, min(READ_THREADS, len(groups)))) as pool:
            found = pool.map(lambda group: self._states(group, consistent=False), groups)
            return {
                url: previous_from_state(state) for part in found for url, state in part.items()
            }

    def get_summary(self, run_id: str) -> RunSummary | None:
        response = self.client.get_item(
            TableName=self.table_name,
            Key={"pk": {"S": run_key(run_id)}, "sk": {"S": "SUMMARY"}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return None if item is None else _loads_summary(item["data"]["S"])

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
            summaries.extend(_loads_summary(item["data"]["S"]) for item in response["Items"])
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
        keys = [{"pk": {"S": run_key(run_id)}, "sk": {"S": host_key(host)}} for host in unique]
        return {
            item["host"]["S"]: _note_from_item(item)
            for item in self._get_items(keys, consistent=True)
        }

    def put_host_note(self, run_id: str, host: str, note: HostNote) -> HostNote:
        # Conditional: two lanes backing off one host at once keep the later not_before,
        # whichever writes last. Expires like the run's other items (from now: the note
        # does not know the run's start, and only matters while the run lasts).
        expiry = int(self._clock()) + self.ttl_days * 86_400
        key = {"pk": {"S": run_key(run_id)}, "sk": {"S": host_key(host)}}
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
            response: dict[str, Any] = dict(exc.response)
            old: dict[str, Any] | None = response.get("Item")
            if not old:
                found = self.client.get_item(
                    TableName=self.table_name, Key=key, ConsistentRead=True
                )
                old = found.get("Item")
            return later_note(_note_from_item(old) if old else None, note)
        return note

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
        # Chunks of 100 (one BatchGetItem reads their current states), a few in flight at a
        # time: 100,000 results are ~5,000 requests, too slow one after another; at most
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
        stateful = [r["url"] for r in chunk if state_from_result(r, run_id, started_at)]
        existing = self._states(stateful, consistent=True) if stateful else {}
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
        for state in plan_state_writes(chunk, existing, run_id, started_at):
            items.append(
                {
                    "pk": {"S": page_key(state["url"])},
                    "sk": {"S": "STATE"},
                    "url": {"S": state["url"]},
                    "etag": _s(state["etag"]),
                    "last_modified": _s(state["last_modified"]),
                    "content_hash": _s(state["content_hash"]),
                    "run_id": {"S": state["run_id"]},
                    "fetched_at": _s(state["fetched_at"]),
                    "started_at": {"S": state["started_at"]},
                }
            )
        return self._write_items(items)

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
