"""Where crawl results live: DynamoDB when deployed, SQLite on a developer's machine.

Both backends keep the same records (docs/CONTRACT.md, "Store"):
- the latest successful state of each page (what ListPages attaches as `previous`),
- one PageResult per page per run (with a TTL in DynamoDB),
- the RunSummary of each run (plus a `RUNS` index item so runs list newest first),
- per-run host notes (Retry-After back-off shared by every lane of the run).

Writes are idempotent: keys are deterministic and the outcome comes from the results, so
saving the same results twice leaves the same records. A run never overwrites the latest
state written by a run that started later (runs are compared by `started_at`).

Modules: model (records and protocols), keys (keys, expiry, time), latest (which result sets
a page's latest state), dynamodb and sqlite (the backends).
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
    host_key,
    page_key,
    parse_instant,
)
from lambdas.common.store.latest import (
    LATEST_STATE_OUTCOMES,
    next_state,
    plan_state_writes,
    previous_from_state,
    state_from_result,
)
from lambdas.common.store.model import HostNotes, PageState, Store, StoreError, later_note
from lambdas.common.store.sqlite import SQLiteStore

__all__ = [
    "GET_BATCH_SIZE",
    "LATEST_STATE_OUTCOMES",
    "MAX_KEY_BYTES",
    "WRITE_BATCH_SIZE",
    "DynamoDBStore",
    "HostNotes",
    "PageState",
    "SQLiteStore",
    "Store",
    "StoreError",
    "chunked",
    "expires_at",
    "host_key",
    "later_note",
    "next_state",
    "open_store",
    "page_key",
    "parse_instant",
    "plan_state_writes",
    "previous_from_state",
    "state_from_result",
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
