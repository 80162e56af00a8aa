"""Where crawl results live: DynamoDB when deployed, SQLite on a developer's machine.

Both backends keep the same records (docs/CONTRACT.md, "Store"):
- the latest successful state of each page (what ListPages attaches as `previous`),
- one PageResult per page per run (with a TTL in DynamoDB),
- the RunSummary of each run (plus a `RUNS` index item so runs list newest first),
- per-run host notes (Retry-After back-off shared by every lane of the run),
- the run lease (one item/row: the run that is crawling, until it ends or its lease expires).

A state keeps the page as last seen (title, h1, links, ..., CrawlBatch's fingerprints): an
`unchanged` result is completed from it (`carried: true`). A page that redirected is stored
once, under its final URL, with an alias state at its own URL pointing there.

Writes are idempotent: keys are deterministic and the outcome comes from the results, so
saving the same results twice leaves the same records. A run never overwrites the latest
state written by a run that started later (runs are compared by `started_at`).

Modules: model (records and protocols), keys (keys, expiry, time), latest (which result sets
a page's latest state, aliases), lastseen (carried fields), dynamodb and sqlite (the backends,
with their schema versions and conditional writes).
"""

from __future__ import annotations

from lambdas.common import env
from lambdas.common.errors import ConfigError
from lambdas.common.settings import Settings
from lambdas.common.store.dynamodb import GET_BATCH_SIZE, WRITE_BATCH_SIZE, DynamoDBStore
from lambdas.common.store.keys import (
    MAX_KEY_BYTES,
    chunked,
    expires_at,
    host_note_key,
    page_key,
    parse_instant,
)
from lambdas.common.store.lastseen import CARRIED_FIELDS, STORED_FIELDS, carry_forward
from lambdas.common.store.latest import (
    LATEST_STATE_OUTCOMES,
    follow_aliases,
    next_state,
    plan_state_writes,
    previous_from_state,
    state_from_result,
    state_url,
)
from lambdas.common.store.model import (
    HostNotes,
    PageState,
    RunLease,
    RunLeases,
    Store,
    StoreError,
    later_note,
)
from lambdas.common.store.sqlite import SQLiteStore

__all__ = [
    "CARRIED_FIELDS",
    "GET_BATCH_SIZE",
    "LATEST_STATE_OUTCOMES",
    "MAX_KEY_BYTES",
    "STORED_FIELDS",
    "WRITE_BATCH_SIZE",
    "DynamoDBStore",
    "HostNotes",
    "PageState",
    "RunLease",
    "RunLeases",
    "SQLiteStore",
    "Store",
    "StoreError",
    "carry_forward",
    "chunked",
    "expires_at",
    "follow_aliases",
    "host_note_key",
    "later_note",
    "next_state",
    "open_store",
    "page_key",
    "parse_instant",
    "plan_state_writes",
    "previous_from_state",
    "state_from_result",
    "state_url",
]


def open_store(settings: Settings) -> Store:
    """SQLite when CRAWLMAP_SQLITE_PATH is set (the local engine), else DynamoDB."""
    if settings.sqlite_path:
        return SQLiteStore(settings.sqlite_path)
    if not settings.table_name:
        raise ConfigError(
            env.TABLE_NAME, "not set: name the DynamoDB table (or set CRAWLMAP_SQLITE_PATH)"
        )
    return DynamoDBStore(settings.table_name, ttl_days=settings.run_ttl_days)
