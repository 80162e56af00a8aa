"""Records that describe the page as last seen (issue 12), on both backends: carried fields,
change-detection fields kept for the next run, redirect aliases, and stores from v0.1."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdas.common.models import PageResult
from lambdas.common.store import DynamoDBStore, SQLiteStore, Store, StoreError
from lambdas.common.store.sqlite import SCHEMA_VERSION
from tests.lambdas.data_support import AwsClients, aws, make_result

__all__ = ["aws"]  # the fixture is used by name

EARLY = "2026-01-01T00:00:00.000Z"
LATE = "2026-01-02T00:00:00.000Z"
URL = "https://a.test/doc"


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        sqlite_store = SQLiteStore(tmp_path / "crawlmap.db")
        yield sqlite_store
        sqlite_store.close()
    else:
        clients: AwsClients = request.getfixturevalue("aws")
        yield DynamoDBStore(clients.table, client=clients.dynamodb, sleep=lambda _s: None)


def seen_page(url: str = URL, **fields: Any) -> PageResult:
    result = make_result(url, "new", content_hash="h1", etag='"e1"')
    values: dict[str, Any] = {
        "title": "Stable updates",
        "description": "What changed",
        "canonical": url,
        "h1": "Updates",
        "links": 12,
        "words": 340,
        "extracted": {"price": "3"},
        "kind": "html",
        "fingerprints": {"title": "t1", "links": "l1"},
        "changed_fields": [],
    }
    result.update({**values, **fields})  # type: ignore[typeddict-item]
    return result


def bare_304(url: str = URL) -> PageResult:
    result = make_result(url, "unchanged", content_hash="h1", etag=None)
    result.update(  # type: ignore[typeddict-item]
        status=304, content_type=None, title=None, links=None, words=None, bytes=0
    )
    return result


def test_unchanged_pages_carry_the_fields_last_seen(store: Store) -> None:
    store.save_results("r1", [seen_page()], EARLY)
    second = [bare_304()]
    store.save_results("r2", second, LATE)

    [stored] = store.run_results("r2")
    for record in (stored, second[0]):  # the caller's result is completed too
        assert record["carried"] is True
        assert (record["title"], record["h1"], record["links"], record["words"]) == (
            "Stable updates",
            "Updates",
            12,
            340,
        )
        assert record["extracted"] == {"price": "3"}
        assert record["kind"] == "html"  # type: ignore[typeddict-item]
        assert record["status"] == 304  # what this fetch measured stays its own
        assert "changed_fields" not in record
    [first] = store.run_results("r1")
    assert "carried" not in first


def test_a_third_run_still_carries_and_fields_refresh_when_seen_again(store: Store) -> None:
    store.save_results("r1", [seen_page()], EARLY)
    store.save_results("r2", [bare_304()], LATE)
    store.save_results("r3", [bare_304()], "2026-01-03T00:00:00.000Z")
    [third] = store.run_results("r3")
    assert (third["title"], third["carried"]) == ("Stable updates", True)

    refreshed = seen_page(title="Stable updates (2)")
    refreshed["outcome"] = "unchanged"  # fetched whole, same fingerprint of what matters
    store.save_results("r4", [refreshed], "2026-01-04T00:00:00.000Z")
    store.save_results("r5", [bare_304()], "2026-01-05T00:00:00.000Z")
    [fifth] = store.run_results("r5")
    assert fifth["title"] == "Stable updates (2)"
    [fourth] = store.run_results("r4")
    assert "carried" not in fourth


def test_fingerprints_travel_to_the_next_run_as_previous(store: Store) -> None:
    store.save_results("r1", [seen_page()], EARLY)
    previous = store.previous_states([URL])[URL]
    assert previous == {
        "etag": '"e1"',
        "last_modified": None,
        "content_hash": "h1",
        "fingerprints": {"title": "t1", "links": "l1"},
    }
    changed = seen_page(fingerprints={"title": "t2", "links": "l1"}, changed_fields=["title"])
    changed["outcome"] = "changed"
    store.save_results("r2", [changed], LATE)
    assert store.previous_states([URL])[URL]["fingerprints"] == {"title": "t2", "links": "l1"}


def redirected(url: str, final: str) -> PageResult:
    result = seen_page(url)
    result.update(final_url=final, redirects=1)
    return result


def test_a_redirect_is_stored_once_under_its_final_url_with_an_alias(store: Store) -> None:
    store.save_results("r1", [redirected("https://a.test/pg", "https://a.test/pg/")], EARLY)

    assert store.aliases(["https://a.test/pg", "https://a.test/pg/", "https://x.test/"]) == {
        "https://a.test/pg": "https://a.test/pg/"
    }
    states = store.previous_states(["https://a.test/pg", "https://a.test/pg/"])
    assert states["https://a.test/pg"] == states["https://a.test/pg/"]
    assert states["https://a.test/pg/"]["content_hash"] == "h1"
    # Both spellings in one later run: one state, the alias kept.
    store.save_results(
        "r2",
        [redirected("https://a.test/pg", "https://a.test/pg/"), bare_304("https://a.test/pg/")],
        LATE,
    )
    assert store.aliases(["https://a.test/pg"]) == {"https://a.test/pg": "https://a.test/pg/"}
    by_url = {r["url"]: r for r in store.run_results("r2")}
    assert by_url["https://a.test/pg/"]["title"] == "Stable updates"


def test_a_page_that_stops_redirecting_gets_its_own_state_back(store: Store) -> None:
    store.save_results("r1", [redirected("https://a.test/Pg", "https://a.test/pg")], EARLY)
    store.save_results("r2", [seen_page("https://a.test/Pg")], LATE)
    assert store.aliases(["https://a.test/Pg"]) == {}
    assert store.previous_states(["https://a.test/Pg"])["https://a.test/Pg"]["etag"] == '"e1"'


def test_an_unchanged_result_of_an_older_run_is_completed_from_the_newer_state(
    store: Store,
) -> None:
    store.save_results("late", [seen_page()], LATE)
    older = [bare_304()]
    store.save_results("early", older, EARLY)
    assert older[0]["title"] == "Stable updates"
    assert store.previous_states([URL])[URL]["content_hash"] == "h1"


# ---------------------------------------------------------------- stores from v0.1

V01_DDL = """
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


def test_a_v01_sqlite_store_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(V01_DDL)
    old.execute(
        "INSERT INTO page_state VALUES (?, ?, ?, ?, ?, ?, ?)",
        (URL, '"e0"', None, "h0", "r0", "2025-12-31T00:00:00Z", "2025-12-31T00:00:00.000Z"),
    )
    old.execute(
        "INSERT INTO run_summary VALUES (?, ?, ?)",
        ("r0", "2025-12-31T00:00:00.000000Z#r0", '{"run_id": "r0"}'),
    )
    old.commit()
    old.close()

    store = SQLiteStore(path)
    assert store.previous_states([URL]) == {
        URL: {"etag": '"e0"', "last_modified": None, "content_hash": "h0"}
    }
    assert [s["run_id"] for s in store.list_runs()] == ["r0"]
    store.save_results("r1", [bare_304()], EARLY)  # nothing to carry yet: nothing invented
    [first] = store.run_results("r1")
    assert first["title"] is None
    assert "carried" not in first
    store.save_results("r2", [seen_page()], LATE)
    store.save_results("r3", [bare_304()], "2026-01-03T00:00:00.000Z")
    assert next(store.run_results("r3"))["title"] == "Stable updates"
    store.close()

    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    columns = {row[1] for row in check.execute("PRAGMA table_info(page_state)")}
    assert {"alias_of", "seen"} <= columns
    check.close()
    SQLiteStore(path).close()  # opening a current file again changes nothing


def test_a_store_from_a_newer_crawlmap_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    sqlite3.connect(path).execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer than this crawlmap"):
        SQLiteStore(path).previous_states([URL])


def test_v01_dynamodb_state_items_are_read_and_guarded(aws: AwsClients) -> None:
    aws.dynamodb.put_item(
        TableName=aws.table,
        Item={
            "pk": {"S": f"PAGE#{URL}"},
            "sk": {"S": "STATE"},
            "url": {"S": URL},
            "etag": {"S": '"e0"'},
            "last_modified": {"NULL": True},
            "content_hash": {"S": "h0"},
            "run_id": {"S": "r0"},
            "fetched_at": {"NULL": True},
            "started_at": {"S": LATE},
        },
    )
    store = DynamoDBStore(aws.table, client=aws.dynamodb)
    assert store.previous_states([URL]) == {
        URL: {"etag": '"e0"', "last_modified": None, "content_hash": "h0"}
    }
    store.save_results("early", [seen_page()], EARLY)  # older than the v0.1 item: kept
    assert store.previous_states([URL])[URL]["content_hash"] == "h0"
    store.save_results("later", [seen_page()], "2026-01-03T00:00:00.000Z")
    assert store.previous_states([URL])[URL]["content_hash"] == "h1"
