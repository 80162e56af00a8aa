"""The run lease: a run started while another is still running is skipped, with a notification.

Both backends: SQLite on a tmp path, and DynamoDB in moto (`mock_aws`: conditional PutItem and
DeleteItem). A property checks each backend against a model of the lease over any sequence of
acquires and releases; then ListPages and StoreAndNotify with the lease, on SQLite and moto.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from lambdas.common.errors import InvalidInputError
from lambdas.common.models import ListPagesOutput
from lambdas.common.settings import Settings
from lambdas.common.store import DynamoDBStore, RunLease, SQLiteStore, Store, parse_instant
from lambdas.list_pages import handler as list_pages_handler
from lambdas.list_pages.listing import ListingContext, list_pages
from lambdas.list_pages.sources import S3Objects, SourceError
from lambdas.store_and_notify.results import S3ResultReader
from lambdas.store_and_notify.storing import StoringContext, store_and_notify
from tests.lambdas.data_support import AwsClients, aws, create_table, make_result

__all__ = ["aws"]  # fixture used by name

STARTED = "2026-03-01T10:00:00.000Z"
START_S = parse_instant(STARTED).timestamp()
examples = itertools.count()


@contextmanager
def backend(kind: str, tmp: Path) -> Iterator[Store]:
    if kind == "sqlite":
        store = SQLiteStore(tmp / f"lease{next(examples)}.db")
        try:
            yield store
        finally:
            store.close()
        return
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client, "leases")
        yield DynamoDBStore("leases", client=client)


def lease(run_id: str, expires_at: float) -> RunLease:
    return RunLease(run_id=run_id, started_at=STARTED, expires_at=expires_at)


# ---------------------------------------------------------------- the store, against a model

operations = st.lists(
    st.one_of(
        # (acquire, run, now, lease length): whole seconds, as DynamoDB's TTL attribute holds
        st.tuples(
            st.just("acquire"), st.sampled_from("abc"), st.integers(0, 12), st.integers(1, 4)
        ),
        st.tuples(st.just("release"), st.sampled_from("abc"), st.just(0), st.just(0)),
    ),
    max_size=12,
)


@pytest.mark.parametrize("kind", ["sqlite", "dynamodb"])
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=operations)
def test_the_lease_behaves_like_its_model(
    kind: str, steps: list[tuple[str, str, int, int]], tmp_path: Path
) -> None:
    held: RunLease | None = None
    with backend(kind, tmp_path) as store:
        for action, run_id, now, length in steps:
            if action == "acquire":
                wanted = lease(run_id, now + length)
                if held is None or held["run_id"] == run_id or held["expires_at"] <= now:
                    held = wanted
                assert store.acquire_run_lease(wanted, now) == held
            else:
                released = held is not None and held["run_id"] == run_id
                assert store.release_run_lease(run_id) is released
                if released:
                    held = None


def test_two_processes_racing_for_a_free_sqlite_lease_one_wins(tmp_path: Path) -> None:
    path = tmp_path / "race.db"
    stores = [SQLiteStore(path) for _ in range(8)]
    barrier = threading.Barrier(len(stores))
    holders: list[str] = []

    def take(number: int) -> None:
        barrier.wait()
        holders.append(stores[number].acquire_run_lease(lease(f"run-{number}", 100.0), 0)["run_id"])

    threads = [threading.Thread(target=take, args=(n,)) for n in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(holders)) == 1  # every store saw the same winner
    for store in stores:
        store.close()


# ---------------------------------------------------------------- ListPages and StoreAndNotify


class RecordingNotifier:
    def __init__(self) -> None:
        self.published: list[tuple[str, str]] = []

    def publish(self, subject: str, message: str) -> None:
        self.published.append((subject, message))


def listing(store: Store, now: float, settings_: Settings | None = None) -> ListingContext:
    def no_sitemaps(url: str, max_bytes: int) -> bytes:
        raise SourceError("HTTP 404")

    return ListingContext(
        settings=settings_ or Settings(execution_timeout_minutes=60),
        store=store,
        fetch_sitemap=no_sitemaps,
        objects=S3Objects(),
        leases=store,
        clock=lambda: now,
    )


def run_event(run_id: str, execution_input: Any = None) -> dict[str, Any]:
    return {
        "input": execution_input or {"pages": ["https://a.test/"]},
        "execution": run_id,
        "started_at": STARTED,
    }


def finish(store: Store, output: ListPagesOutput, results: list[Any]) -> RecordingNotifier:
    notifier = RecordingNotifier()
    context = StoringContext(
        store=store,
        notifier=notifier,
        reader=S3ResultReader(),
        clock=lambda: datetime(2026, 3, 1, 10, 5, tzinfo=UTC),
    )
    lanes = [[{"batch_id": 0, "results": results}]] if results else []
    store_and_notify({"run": output["run"], "lanes": lanes}, context)
    return notifier


@pytest.mark.parametrize("kind", ["sqlite", "dynamodb"])
def test_a_run_started_while_another_runs_is_skipped_and_says_so(kind: str, tmp_path: Path) -> None:
    with backend(kind, tmp_path) as store:
        first = list_pages(run_event("first"), listing(store, START_S))
        second = list_pages(run_event("second"), listing(store, START_S + 60))

        assert "skipped_reason" not in first["run"]
        assert second == {
            "run": {
                "run_id": "second",
                "started_at": STARTED,
                "mode": "inline",
                "page_count": 0,
                "batch_count": 0,
                "duplicates_dropped": 0,
                "batches_location": None,
                "results_prefix": None,
                "lane_count": 0,
                "lanes_location": None,
                "skipped_reason": "another run (first) is still running",
            },
            "lanes": [],
        }
        # the skipped run ends first: it stores no page, says why, and leaves the lease alone
        skipped = finish(store, second, [])
        [(subject, message)] = skipped.published
        assert subject == "crawlmap run second: skipped, another run is still running"
        assert "the run was skipped: another run (first) is still running" in message
        assert list(store.run_results("second")) == []
        summary = store.get_summary("second")
        assert summary is not None
        assert summary["total"] == 0
        assert summary["skipped_reason"] == "another run (first) is still running"
        third = list_pages(run_event("third"), listing(store, START_S + 120))
        assert third["run"]["skipped_reason"] == "another run (first) is still running"

        # the first run's results are intact, and its end frees the lease
        finish(store, first, [make_result("https://a.test/", "new")])
        assert [r["url"] for r in store.run_results("first")] == ["https://a.test/"]
        fourth = list_pages(run_event("fourth"), listing(store, START_S + 180))
        assert "skipped_reason" not in fourth["run"]
        assert fourth["run"]["page_count"] == 1


@pytest.mark.parametrize("kind", ["sqlite", "dynamodb"])
def test_a_lease_past_the_execution_timeout_is_taken_over(kind: str, tmp_path: Path) -> None:
    with backend(kind, tmp_path) as store:
        list_pages(run_event("stuck"), listing(store, START_S))  # never reaches StoreAndNotify
        within = list_pages(run_event("early"), listing(store, START_S + 3599))
        assert within["run"]["skipped_reason"] == "another run (stuck) is still running"
        after = list_pages(run_event("late"), listing(store, START_S + 3600))
        assert "skipped_reason" not in after["run"]


def test_a_retried_list_pages_keeps_its_own_lease(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    once = list_pages(run_event("run-1"), listing(store, START_S))
    again = list_pages(run_event("run-1"), listing(store, START_S + 5))
    assert once == again
    store.close()


def test_a_run_that_fails_in_list_pages_gives_the_lease_back(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    with pytest.raises(InvalidInputError, match=r"^sitemap: "):
        list_pages(
            run_event("broken", {"sitemap": "https://a.test/s.xml"}), listing(store, START_S)
        )
    nxt = list_pages(run_event("next"), listing(store, START_S + 1))
    assert "skipped_reason" not in nxt["run"]
    store.close()


def test_invalid_input_never_takes_the_lease(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    with pytest.raises(InvalidInputError, match=r"^pages"):
        list_pages(run_event("bad", {"pages": []}), listing(store, START_S))
    assert store.release_run_lease("bad") is False
    store.close()


def test_the_deployed_handler_skips_an_overlapping_run(
    aws: AwsClients, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRAWLMAP_TABLE_NAME", aws.table)
    monkeypatch.setenv("CRAWLMAP_EXECUTION_TIMEOUT_MINUTES", "525600")  # STARTED is in the past
    list_pages_handler.listing_context.cache_clear()
    try:
        first = list_pages_handler.handler(run_event("first"), None)
        second = list_pages_handler.handler(run_event("second"), None)
    finally:
        list_pages_handler.listing_context.cache_clear()
    assert first["run"]["page_count"] == 1
    assert second["run"]["skipped_reason"] == "another run (first) is still running"
    item = aws.dynamodb.get_item(
        TableName=aws.table, Key={"pk": {"S": "LEASE"}, "sk": {"S": "RUN"}}
    )
    assert item["Item"]["run_id"] == {"S": "first"}
    assert int(item["Item"]["expires_at"]["N"]) == int(START_S) + 525600 * 60
