"""Where crawl results live: DynamoDB when deployed, SQLite on a developer's machine.

Both implementations keep the same three records (docs/CONTRACT.md, "Store"):
- the latest successful state of each page (what ListPages attaches as `previous`),
- one PageResult per page per run (with a TTL in DynamoDB),
- the RunSummary of each run (plus a `RUNS` index item so runs list newest first).

Writes are idempotent: keys are deterministic and the outcome comes from the results, so
saving the same results twice leaves the same records. A run never overwrites the latest
state written by a run that started later (runs are compared by `started_at`).
"""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypedDict, TypeVar

from lambdas.common import env
from lambdas.common.errors import ConfigError
from lambdas.common.models import PageResult, PreviousState, RunSummary
from lambdas.common.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# DynamoDB limits: 25 items per BatchWriteItem, 100 keys per BatchGetItem, sort keys up to
# 1024 bytes (partition keys 2048): a URL may be up to 2083 characters, so long ones are hashed.
WRITE_BATCH_SIZE = 25
GET_BATCH_SIZE = 100
MAX_KEY_BYTES = 1024
MAX_RETRY_ATTEMPTS = 8
READ_THREADS = 8
WRITE_THREADS = 4
LATEST_STATE_OUTCOMES = frozenset({"new", "changed", "unchanged"})

T = TypeVar("T")


class StoreError(RuntimeError):
    """The store could not complete a write or read (e.g. throttled past every retry)."""


class PageState(TypedDict):
    """The latest successful state of one page, as stored."""

    url: str
    etag: str | None
    last_modified: str | None
    content_hash: str | None
    run_id: str
    fetched_at: str | None
    started_at: str  # the writing run's start: an older run never overwrites a newer one


class Store(Protocol):
    def previous_states(self, urls: Iterable[str]) -> dict[str, PreviousState]:
        """The latest successful state of each URL that has one."""
        ...

    def save_results(self, run_id: str, results: Iterable[PageResult], started_at: str) -> int:
        """Write each page's record and its latest state; return the number of items written."""
        ...

    def save_summary(self, summary: RunSummary) -> int:
        """Write the run record; return the number of items written."""
        ...

    def get_summary(self, run_id: str) -> RunSummary | None: ...

    def list_runs(self, limit: int = 20) -> list[RunSummary]:
        """Run summaries, newest first."""
        ...

    def run_results(self, run_id: str) -> Iterator[PageResult]:
        """Every PageResult saved for the run, ordered by URL."""
        ...


# ---------------------------------------------------------------- pure helpers


def page_key(url: str) -> str:
    """The key part naming a page: `PAGE#<url>`, or a SHA-256 of it when too long for a key."""
    key = f"PAGE#{url}"
    if len(key.encode("utf-8")) <= MAX_KEY_BYTES:
        return key
    return "PAGE#sha256:" + hashlib.sha256(url.encode("utf-8")).hexdigest()


def expires_at(started_at: str, ttl_days: int) -> int:
    """Epoch seconds at which a run's records expire (from the run's start: deterministic)."""
    return int((parse_instant(started_at) + timedelta(days=ttl_days)).timestamp())


def parse_instant(text: str) -> datetime:
    """Parse an ISO 8601 timestamp (Step Functions writes `...Z`); naive means UTC."""
    value = datetime.fromisoformat(text.strip())
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _is_older(candidate: str, existing: str) -> bool:
    try:
        return parse_instant(candidate) < parse_instant(existing)
    except ValueError:
        return candidate < existing


def state_from_result(result: PageResult, run_id: str, started_at: str) -> PageState | None:
    """The latest state a result sets, or None (failed and skipped pages keep the old one)."""
    if not result["ok"] or result["outcome"] not in LATEST_STATE_OUTCOMES:
        return None
    return PageState(
        url=result["url"],
        etag=result["etag"],
        last_modified=result["last_modified"],
        content_hash=result["content_hash"],
        run_id=run_id,
        fetched_at=result["fetched_at"],
        started_at=started_at,
    )


def next_state(existing: PageState | None, candidate: PageState, outcome: str) -> PageState | None:
    """What to write as the page's latest state, or None to leave the existing one.

    A run that started before the one that wrote `existing` writes nothing. An `unchanged`
    result (often a bare 304) keeps the validators it did not receive again.
    """
    if existing is None:
        return candidate
    if _is_older(candidate["started_at"], existing["started_at"]):
        return None
    if outcome != "unchanged":
        return candidate
    return PageState(
        url=candidate["url"],
        etag=_first_known(candidate["etag"], existing["etag"]),
        last_modified=_first_known(candidate["last_modified"], existing["last_modified"]),
        content_hash=_first_known(candidate["content_hash"], existing["content_hash"]),
        run_id=candidate["run_id"],
        fetched_at=candidate["fetched_at"],
        started_at=candidate["started_at"],
    )


def _first_known(value: str | None, fallback: str | None) -> str | None:
    return fallback if value is None else value


def plan_state_writes(
    results: Sequence[PageResult],
    existing: dict[str, PageState],
    run_id: str,
    started_at: str,
) -> list[PageState]:
    """The latest-state records to write for a chunk of results (one per URL)."""
    planned: dict[str, PageState] = {}
    for result in results:
        candidate = state_from_result(result, run_id, started_at)
        if candidate is None:
            continue
        chosen = next_state(existing.get(candidate["url"]), candidate, result["outcome"])
        if chosen is not None:
            planned[candidate["url"]] = chosen
    return list(planned.values())


def previous_from_state(state: PageState) -> PreviousState:
    return PreviousState(
        etag=state["etag"],
        last_modified=state["last_modified"],
        content_hash=state["content_hash"],
    )


def _unique_by_url(results: Iterable[PageResult]) -> list[PageResult]:
    """One result per URL (the last wins): a write batch may not name one key twice."""
    return list({result["url"]: result for result in results}.values())


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """The items in lists of `size` (the last may be shorter), consumed lazily."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _runs_sort_key(started_at: str, run_id: str) -> str:
    try:
        instant = parse_instant(started_at).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        instant = started_at
    return f"{instant}#{run_id}"


# ---------------------------------------------------------------- DynamoDB


def _s(value: str | None) -> dict[str, Any]:
    return {"NULL": True} if value is None else {"S": value}


def _str_or_none(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    if value is None or "NULL" in value:
        return None
    return str(value["S"])


class DynamoDBStore:
    """The deployed store: one DynamoDB table with `pk`/`sk` string keys and TTL `expires_at`."""

    def __init__(
        self,
        table_name: str,
        *,
        ttl_days: int = 90,
        client: DynamoDBClient | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.table_name = table_name
        self.ttl_days = ttl_days
        self._client = client
        self._sleep = sleep

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
            Key={"pk": {"S": f"RUN#{run_id}"}, "sk": {"S": "SUMMARY"}},
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
            ExpressionAttributeValues={":run": {"S": f"RUN#{run_id}"}, ":page": {"S": "PAGE#"}},
        )
        for page in pages:
            for item in page["Items"]:
                result: PageResult = json.loads(item["data"]["S"])
                yield result

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
                chunk = _unique_by_url(raw_chunk)
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
                "pk": {"S": f"RUN#{run_id}"},
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
            "pk": {"S": f"RUN#{summary['run_id']}"},
            "sk": {"S": "SUMMARY"},
            "data": data,
            "started_at": started,
            "expires_at": expiry,
        }
        index_item = {
            "pk": {"S": "RUNS"},
            "sk": {"S": _runs_sort_key(summary["started_at"], summary["run_id"])},
            "run_id": {"S": summary["run_id"]},
            "data": data,
            "started_at": started,
            "expires_at": expiry,
        }
        return self._write_items([run_item, index_item])


def _loads_summary(text: str) -> RunSummary:
    summary: RunSummary = json.loads(text)
    return summary


# ---------------------------------------------------------------- SQLite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS page_state (
    url TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    content_hash TEXT,
    run_id TEXT NOT NULL,
    fetched_at TEXT,
    started_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS run_page (
    run_id TEXT NOT NULL,
    url TEXT NOT NULL,
    outcome TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, url)
);
CREATE TABLE IF NOT EXISTS run_summary (
    run_id TEXT PRIMARY KEY,
    sort_key TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS run_summary_newest ON run_summary (sort_key);
"""
_STATE_COLUMNS = "url, etag, last_modified, content_hash, run_id, fetched_at, started_at"
_SQLITE_VARIABLES = 500  # per IN (...) query, far under SQLite's limit


class SQLiteStore:
    """The local store: one SQLite file (WAL), created on first use and kept across runs."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # the engine may call from any thread

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.executescript(_SCHEMA)
            self._connection = connection
        return self._connection

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def _states(self, db: sqlite3.Connection, urls: Sequence[str]) -> dict[str, PageState]:
        states: dict[str, PageState] = {}
        for chunk in chunked(dict.fromkeys(urls), _SQLITE_VARIABLES):
            marks = ",".join("?" * len(chunk))
            # Only "?" placeholders are formatted in; the URLs travel as parameters.
            query = f"SELECT {_STATE_COLUMNS} FROM page_state WHERE url IN ({marks})"  # noqa: S608
            rows = db.execute(query, chunk)
            for url, etag, last_modified, content_hash, run_id, fetched_at, started in rows:
                states[url] = PageState(
                    url=url,
                    etag=etag,
                    last_modified=last_modified,
                    content_hash=content_hash,
                    run_id=run_id,
                    fetched_at=fetched_at,
                    started_at=started,
                )
        return states

    def previous_states(self, urls: Iterable[str]) -> dict[str, PreviousState]:
        with self._lock:
            states = self._states(self._db(), list(urls))
        return {url: previous_from_state(state) for url, state in states.items()}

    def save_results(self, run_id: str, results: Iterable[PageResult], started_at: str) -> int:
        written = 0
        for raw_chunk in chunked(results, _SQLITE_VARIABLES):
            chunk = _unique_by_url(raw_chunk)
            with self._lock:
                db = self._db()
                db.execute("BEGIN IMMEDIATE")  # read states and write in one transaction
                try:
                    existing = self._states(db, [r["url"] for r in chunk])
                    states = plan_state_writes(chunk, existing, run_id, started_at)
                    db.executemany(
                        "INSERT OR REPLACE INTO run_page (run_id, url, outcome, data)"
                        " VALUES (?, ?, ?, ?)",
                        [
                            (
                                run_id,
                                r["url"],
                                r["outcome"],
                                json.dumps(r, separators=(",", ":"), sort_keys=True),
                            )
                            for r in chunk
                        ],
                    )
                    db.executemany(
                        "INSERT OR REPLACE INTO page_state (url, etag, last_modified,"
                        " content_hash, run_id, fetched_at, started_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [
                            (
                                s["url"],
                                s["etag"],
                                s["last_modified"],
                                s["content_hash"],
                                s["run_id"],
                                s["fetched_at"],
                                s["started_at"],
                            )
                            for s in states
                        ],
                    )
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
            written += len(chunk) + len(states)
        return written

    def save_summary(self, summary: RunSummary) -> int:
        with self._lock:
            self._db().execute(
                "INSERT OR REPLACE INTO run_summary (run_id, sort_key, data) VALUES (?, ?, ?)",
                (
                    summary["run_id"],
                    _runs_sort_key(summary["started_at"], summary["run_id"]),
                    json.dumps(summary, separators=(",", ":"), sort_keys=True),
                ),
            )
        # One row here; DynamoDB writes two items (run record + RUNS index). Report what the
        # deployed store writes so local cost estimates match it.
        return 2

    def get_summary(self, run_id: str) -> RunSummary | None:
        with self._lock:
            row = (
                self._db()
                .execute("SELECT data FROM run_summary WHERE run_id = ?", (run_id,))
                .fetchone()
            )
        return None if row is None else _loads_summary(row[0])

    def list_runs(self, limit: int = 20) -> list[RunSummary]:
        with self._lock:
            rows = (
                self._db()
                .execute("SELECT data FROM run_summary ORDER BY sort_key DESC LIMIT ?", (limit,))
                .fetchall()
            )
        return [_loads_summary(data) for (data,) in rows]

    def run_results(self, run_id: str) -> Iterator[PageResult]:
        # Keyset pages: no cursor (or lock) stays open while the caller consumes results.
        after = ""
        while True:
            with self._lock:
                rows = (
                    self._db()
                    .execute(
                        "SELECT url, data FROM run_page WHERE run_id = ? AND url > ?"
                        " ORDER BY url LIMIT 1000",
                        (run_id, after),
                    )
                    .fetchall()
                )
            if not rows:
                return
            for _url, data in rows:
                result: PageResult = json.loads(data)
                yield result
            after = rows[-1][0]


def open_store(settings: Settings) -> Store:
    """SQLite when CRAWLMAP_SQLITE_PATH is set (the local engine), else DynamoDB."""
    if settings.sqlite_path:
        return SQLiteStore(settings.sqlite_path)
    if not settings.table_name:
        raise ConfigError(
            env.TABLE_NAME, "not set: name the DynamoDB table (or set CRAWLMAP_SQLITE_PATH)"
        )
    return DynamoDBStore(settings.table_name, ttl_days=settings.run_ttl_days)
