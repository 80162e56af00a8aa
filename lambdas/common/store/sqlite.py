"""The local store: one SQLite file (WAL), created on first use and kept across runs."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from lambdas.common.models import HostNote, PageResult, PreviousState, RunSummary
from lambdas.common.store.keys import chunked, runs_sort_key
from lambdas.common.store.lastseen import carry_forward
from lambdas.common.store.latest import (
    follow_aliases,
    plan_state_writes,
    previous_from_state,
    state_keys,
    state_url,
    unique_by_url,
)
from lambdas.common.store.model import PageState, RunLease, StoreError

# The schema of v0.1 (user_version 0) is migrated in place; a file from a newer crawlmap is
# refused rather than written in a shape it does not know.
SCHEMA_VERSION = 1
_TABLES = """
CREATE TABLE IF NOT EXISTS page_state (
    url TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    content_hash TEXT,
    run_id TEXT NOT NULL,
    fetched_at TEXT,
    started_at TEXT NOT NULL,
    alias_of TEXT,
    seen TEXT
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
CREATE TABLE IF NOT EXISTS host_notes (
    run_id TEXT NOT NULL,
    host TEXT NOT NULL,
    not_before REAL NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (run_id, host)
);
"""
# The run lease (one row): created on first use, so files of every schema version get it and
# crawlmaps that do not know it ignore it.
_LEASE_TABLE = """
CREATE TABLE IF NOT EXISTS run_lease (
    name TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    started_at TEXT NOT NULL,
    expires_at REAL NOT NULL
)
"""
# Columns v0.2 added to v0.1's tables (ALTER TABLE ... ADD COLUMN keeps every row).
_ADDED_COLUMNS = (("page_state", "alias_of", "TEXT"), ("page_state", "seen", "TEXT"))
_STATE_COLUMNS = (
    "url, etag, last_modified, content_hash, run_id, fetched_at, started_at, alias_of, seen"
)
_SQLITE_VARIABLES = 500  # per IN (...) query, far under SQLite's limit


def migrate(db: sqlite3.Connection) -> None:
    """Bring the file to SCHEMA_VERSION (new file, or v0.1's), in one transaction."""
    db.execute("BEGIN IMMEDIATE")  # another process may be opening the same file
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{_name(db)}: store schema version {version} is newer than this crawlmap's"
                f" ({SCHEMA_VERSION}); use a newer crawlmap or another --db"
            )
        if version < SCHEMA_VERSION:
            for statement in _TABLES.split(";"):
                if statement.strip():
                    db.execute(statement)
            for table, column, kind in _ADDED_COLUMNS:
                existing = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
                if column not in existing:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _name(db: sqlite3.Connection) -> str:
    row = db.execute("PRAGMA database_list").fetchone()
    return str(row[2]) if row and row[2] else "the store"


def _state_row(row: Sequence[Any]) -> PageState:
    url, etag, last_modified, content_hash, run_id, fetched_at, started, alias_of, seen = row
    return PageState(
        url=url,
        etag=etag,
        last_modified=last_modified,
        content_hash=content_hash,
        run_id=run_id,
        fetched_at=fetched_at,
        started_at=started,
        alias_of=alias_of,
        seen=json.loads(seen) if seen else {},
    )


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _loads_summary(text: str) -> RunSummary:
    summary: RunSummary = json.loads(text)
    return summary


class SQLiteStore:
    """The Store on SQLite. Every CrawlBatch, ListPages and StoreAndNotify of the local engine
    opens its own instance on the same file; WAL lets them read while one writes."""

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
            migrate(connection)
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
            for row in db.execute(query, chunk):
                state = _state_row(row)
                states[state["url"]] = state
        return states

    def previous_states(self, urls: Iterable[str]) -> dict[str, PreviousState]:
        with self._lock:
            db = self._db()
            states = follow_aliases(list(urls), lambda some: self._states(db, some))
        return {url: previous_from_state(state) for url, state in states.items()}

    def aliases(self, urls: Iterable[str]) -> dict[str, str]:
        with self._lock:
            states = self._states(self._db(), list(urls))
        return {url: str(s["alias_of"]) for url, s in states.items() if s.get("alias_of")}

    def save_results(self, run_id: str, results: Iterable[PageResult], started_at: str) -> int:
        written = 0
        for raw_chunk in chunked(results, _SQLITE_VARIABLES):
            chunk = unique_by_url(raw_chunk)
            with self._lock:
                db = self._db()
                db.execute("BEGIN IMMEDIATE")  # read states and write in one transaction
                try:
                    existing = self._states(db, state_keys(chunk))
                    states = plan_state_writes(chunk, existing, run_id, started_at)
                    latest = {**existing, **{s["url"]: s for s in states}}
                    for result in chunk:
                        known = latest.get(state_url(result))
                        carry_forward(result, known.get("seen") if known else None)
                    db.executemany(
                        "INSERT OR REPLACE INTO run_page (run_id, url, outcome, data)"
                        " VALUES (?, ?, ?, ?)",
                        [
                            (
                                run_id,
                                r["url"],
                                r["outcome"],
                                _dumps(r),
                            )
                            for r in chunk
                        ],
                    )
                    db.executemany(
                        "INSERT OR REPLACE INTO page_state (url, etag, last_modified,"
                        " content_hash, run_id, fetched_at, started_at, alias_of, seen)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [
                            (
                                s["url"],
                                s["etag"],
                                s["last_modified"],
                                s["content_hash"],
                                s["run_id"],
                                s["fetched_at"],
                                s["started_at"],
                                s.get("alias_of"),
                                _dumps(s.get("seen") or {}),
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
                    runs_sort_key(summary["started_at"], summary["run_id"]),
                    _dumps(summary),
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

    # -- host notes

    def host_notes(self, run_id: str, hosts: Iterable[str]) -> dict[str, HostNote]:
        notes: dict[str, HostNote] = {}
        with self._lock:
            db = self._db()
            for chunk in chunked(dict.fromkeys(hosts), _SQLITE_VARIABLES):
                marks = ",".join("?" * len(chunk))
                # Only "?" placeholders are formatted in; the hosts travel as parameters.
                query = f"SELECT host, not_before, reason FROM host_notes WHERE run_id = ? AND host IN ({marks})"  # noqa: E501, S608
                for host, not_before, reason in db.execute(query, [run_id, *chunk]):
                    notes[host] = HostNote(not_before=float(not_before), reason=reason)
        return notes

    def put_host_note(self, run_id: str, host: str, note: HostNote) -> HostNote:
        with self._lock:
            db = self._db()
            # One statement: another process's lane may write the same host at once.
            db.execute(
                "INSERT INTO host_notes (run_id, host, not_before, reason) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (run_id, host) DO UPDATE SET"
                " not_before = excluded.not_before, reason = excluded.reason"
                " WHERE excluded.not_before > host_notes.not_before",
                (run_id, host, float(note["not_before"]), note["reason"]),
            )
            row = db.execute(
                "SELECT not_before, reason FROM host_notes WHERE run_id = ? AND host = ?",
                (run_id, host),
            ).fetchone()
        # The row is the note in effect: ours, or a later one that was already there.
        return HostNote(not_before=float(row[0]), reason=row[1]) if row else note

    # -- the run lease

    def acquire_run_lease(self, lease: RunLease, now: float) -> RunLease:
        with self._lock:
            db = self._db()
            db.execute(_LEASE_TABLE)
            # One statement: another process's ListPages may be taking it at the same time.
            db.execute(
                "INSERT INTO run_lease (name, run_id, started_at, expires_at)"
                " VALUES ('RUN', ?, ?, ?) ON CONFLICT (name) DO UPDATE SET"
                " run_id = excluded.run_id, started_at = excluded.started_at,"
                " expires_at = excluded.expires_at"
                " WHERE run_lease.run_id = excluded.run_id OR run_lease.expires_at <= ?",
                (lease["run_id"], lease["started_at"], float(lease["expires_at"]), float(now)),
            )
            row = db.execute(
                "SELECT run_id, started_at, expires_at FROM run_lease WHERE name = 'RUN'"
            ).fetchone()
        if row is None:
            return lease
        return RunLease(run_id=row[0], started_at=row[1], expires_at=float(row[2]))

    def release_run_lease(self, run_id: str) -> bool:
        with self._lock:
            db = self._db()
            db.execute(_LEASE_TABLE)
            cursor = db.execute(
                "DELETE FROM run_lease WHERE name = 'RUN' AND run_id = ?", (run_id,)
            )
        return cursor.rowcount > 0
