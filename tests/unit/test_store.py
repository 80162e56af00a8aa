"""The store contract, run against both implementations.

SQLite runs on a tmp file; DynamoDB runs on moto (`mock_aws`), which stands in for the table.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdas.common.errors import ConfigError
from lambdas.common.models import RunSummary
from lambdas.common.settings import Settings
from lambdas.common.store import (
    DynamoDBStore,
    PageState,
    SQLiteStore,
    Store,
    StoreError,
    expires_at,
    next_state,
    open_store,
    page_key,
)
from tests.lambdas.data_support import AwsClients, aws, make_result

__all__ = ["aws"]  # the fixture is used by name

EARLY = "2026-01-01T00:00:00.000Z"
LATE = "2026-01-02T00:00:00.000Z"


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        sqlite_store = SQLiteStore(tmp_path / "nested" / "crawlmap.db")
        yield sqlite_store
        sqlite_store.close()
    else:
        clients: AwsClients = request.getfixturevalue("aws")
        yield DynamoDBStore(clients.table, client=clients.dynamodb, sleep=lambda _s: None)


def summary(run_id: str, started_at: str, **counts: Any) -> RunSummary:
    base = RunSummary(
        run_id=run_id,
        mode="inline",
        total=0,
        ok=0,
        failed=0,
        skipped=0,
        new=0,
        changed=0,
        unchanged=0,
        failure_ratio=0.0,
        started_at=started_at,
        finished_at=started_at,
        duration_s=1.5,
        first_failures=[],
    )
    base.update(counts)  # type: ignore[typeddict-item]
    return base


def test_previous_state_comes_from_successful_results_only(store: Store) -> None:
    results = [
        make_result("https://a.test/", "new", content_hash="h1", etag='"e1"'),
        make_result("https://a.test/gone", "failed"),
        make_result("https://a.test/robots", "skipped"),
    ]
    written = store.save_results("run-1", results, EARLY)

    assert written == 4  # three page records + one latest state
    assert store.previous_states(["https://a.test/", "https://a.test/gone", "https://b.test/"]) == {
        "https://a.test/": {"etag": '"e1"', "last_modified": None, "content_hash": "h1"}
    }


def test_saving_twice_leaves_the_same_records(store: Store) -> None:
    results = [make_result(f"https://a.test/{i}", "new", content_hash=f"h{i}") for i in range(60)]
    store.save_results("run-1", results, EARLY)
    first = list(store.run_results("run-1"))
    store.save_results("run-1", results, EARLY)

    assert list(store.run_results("run-1")) == first
    assert sorted(r["url"] for r in first) == sorted(r["url"] for r in results)
    assert store.previous_states(["https://a.test/7"])["https://a.test/7"]["content_hash"] == "h7"


def test_an_older_run_does_not_overwrite_a_newer_latest_state(store: Store) -> None:
    url = "https://a.test/"
    store.save_results("late", [make_result(url, "changed", content_hash="new")], LATE)
    store.save_results("early", [make_result(url, "changed", content_hash="old")], EARLY)

    assert store.previous_states([url])[url]["content_hash"] == "new"
    # ...but the older run's own page record is still written.
    assert [r["content_hash"] for r in store.run_results("early")] == ["old"]


def test_unchanged_keeps_validators_a_bare_304_did_not_repeat(store: Store) -> None:
    url = "https://a.test/"
    store.save_results("r1", [make_result(url, "new", content_hash="h", etag='"e"')], EARLY)
    store.save_results("r2", [make_result(url, "unchanged", content_hash=None, etag=None)], LATE)

    assert store.previous_states([url])[url] == {
        "etag": '"e"',
        "last_modified": None,
        "content_hash": "h",
    }


def test_summaries_list_newest_first_and_are_replaced_not_duplicated(store: Store) -> None:
    store.save_summary(summary("older", EARLY, total=1))
    store.save_summary(summary("newer", LATE, total=2))
    store.save_summary(summary("newer", LATE, total=2))

    assert [s["run_id"] for s in store.list_runs(10)] == ["newer", "older"]
    assert [s["run_id"] for s in store.list_runs(1)] == ["newer"]
    assert store.get_summary("older") == summary("older", EARLY, total=1)
    assert store.get_summary("missing") is None


def test_urls_too_long_for_a_key_are_stored_under_a_hash(store: Store) -> None:
    url = "https://a.test/" + "x" * 2000
    store.save_results("r1", [make_result(url, "new", content_hash="long")], EARLY)

    assert store.previous_states([url])[url]["content_hash"] == "long"
    assert [r["url"] for r in store.run_results("r1")] == [url]
    assert len(page_key(url).encode()) <= 1024


def test_sqlite_store_is_kept_across_instances_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "store.db"
    first = SQLiteStore(path)
    first.save_results("r1", [make_result("https://a.test/", "new", content_hash="h")], EARLY)
    first.close()

    second = SQLiteStore(path)
    assert second.previous_states(["https://a.test/"])["https://a.test/"]["content_hash"] == "h"
    second.close()
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_next_state_merges_only_for_unchanged() -> None:
    existing = PageState(
        url="u",
        etag="e",
        last_modified="lm",
        content_hash="h",
        run_id="r1",
        fetched_at="t1",
        started_at=EARLY,
    )
    candidate = PageState(
        url="u",
        etag=None,
        last_modified=None,
        content_hash="h2",
        run_id="r2",
        fetched_at="t2",
        started_at=LATE,
    )
    assert next_state(existing, candidate, "changed") == candidate
    merged = next_state(existing, candidate, "unchanged")
    assert merged is not None
    assert (merged["etag"], merged["content_hash"], merged["run_id"]) == ("e", "h2", "r2")
    assert next_state(candidate, existing, "changed") is None


def test_expiry_counts_from_the_run_start() -> None:
    assert expires_at("2026-01-01T00:00:00Z", 1) == expires_at("2026-01-02T00:00:00+00:00", 0)


class _FlakyDynamoDB:
    """Wraps the moto client: the first calls hand back part of the request as unprocessed,
    which moto itself never does (real DynamoDB does under throttling)."""

    def __init__(self, real: Any, unprocessed_rounds: int) -> None:
        self.real = real
        self.rounds = unprocessed_rounds
        self.calls: list[str] = []

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
        self.calls.append("write")
        if self.rounds > 0:
            self.rounds -= 1
            (table, requests), *_ = RequestItems.items()
            done, rest = (requests[:1], requests[1:]) if len(requests) > 1 else ([], requests)
            if done:
                self.real.batch_write_item(RequestItems={table: done})
            return {"UnprocessedItems": {table: rest}}
        return dict(self.real.batch_write_item(RequestItems=RequestItems))

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
        self.calls.append("get")
        if self.rounds > 0:
            self.rounds -= 1
            return {"Responses": {}, "UnprocessedKeys": RequestItems}
        return dict(self.real.batch_get_item(RequestItems=RequestItems))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_dynamodb_retries_unprocessed_items_until_written(aws: AwsClients) -> None:
    flaky = _FlakyDynamoDB(aws.dynamodb, unprocessed_rounds=3)
    delays: list[float] = []
    store = DynamoDBStore(aws.table, client=flaky, sleep=delays.append)  # type: ignore[arg-type]
    results = [make_result(f"https://a.test/{i}", "failed") for i in range(30)]

    assert store.save_results("r1", results, EARLY) == 30
    assert len(list(store.run_results("r1"))) == 30
    assert len(delays) == 3
    assert all(0 <= d <= 2.0 for d in delays)


def test_dynamodb_gives_up_with_a_store_error(aws: AwsClients) -> None:
    flaky = _FlakyDynamoDB(aws.dynamodb, unprocessed_rounds=100)
    store = DynamoDBStore(aws.table, client=flaky, sleep=lambda _s: None)  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="unprocessed"):
        store.save_results("r1", [make_result("https://a.test/", "failed")], EARLY)


def test_dynamodb_page_records_carry_a_ttl(aws: AwsClients) -> None:
    store = DynamoDBStore(aws.table, ttl_days=7, client=aws.dynamodb)
    store.save_results("r1", [make_result("https://a.test/", "new")], EARLY)
    item = aws.dynamodb.get_item(
        TableName=aws.table, Key={"pk": {"S": "RUN#r1"}, "sk": {"S": "PAGE#https://a.test/"}}
    )["Item"]
    assert int(item["expires_at"]["N"]) == expires_at(EARLY, 7)
    state = aws.dynamodb.get_item(
        TableName=aws.table, Key={"pk": {"S": "PAGE#https://a.test/"}, "sk": {"S": "STATE"}}
    )["Item"]
    assert "expires_at" not in state


def test_open_store_picks_sqlite_locally_and_names_the_missing_table(tmp_path: Path) -> None:
    assert isinstance(open_store(Settings(sqlite_path=str(tmp_path / "s.db"))), SQLiteStore)
    assert isinstance(open_store(Settings(table_name="t")), DynamoDBStore)
    with pytest.raises(ConfigError, match="CRAWLMAP_TABLE_NAME"):
        open_store(Settings())


def test_previous_states_of_many_pages_read_in_parallel_agree(store: Store) -> None:
    urls = [f"https://a.test/{i}" for i in range(1200)]
    store.save_results(
        "r1", [make_result(u, "new", content_hash=f"h{i}") for i, u in enumerate(urls)], EARLY
    )
    states = store.previous_states([*urls, "https://a.test/unknown", urls[0]])
    assert len(states) == 1200
    assert all(states[u]["content_hash"] == f"h{i}" for i, u in enumerate(urls))
