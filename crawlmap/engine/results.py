"""Read back what a run produced: its page results from the store and its notification."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lambdas.common.store import SQLiteStore


def collect_results(
    database: Path, run_id: str, invocations_per_url: Mapping[str, int]
) -> list[dict[str, Any]]:
    """The run's PageResults from the SQLite store, ordered by URL.

    `attempts` also counts the state machine's retries of a page's batch: a result is raised to
    the number of CrawlBatch invocations that carried the page. StoreAndNotify already reads a
    caught TransientCrawlError's "(attempt N)"; this still matters when a retried batch is
    finally caught on another error (a timeout, an unexpected exception), whose failure records
    say 1.
    """
    if not database.exists():
        return []
    store = SQLiteStore(database)
    try:
        results = [dict(r) for r in store.run_results(run_id)]
    finally:
        store.close()
    for result in results:
        invoked = invocations_per_url.get(str(result.get("url")), 0)
        attempts = result.get("attempts")
        skipped = result.get("outcome") == "skipped"  # never fetched: 0 attempts stays true
        if isinstance(attempts, int) and invoked > attempts and not skipped:
            result["attempts"] = invoked
    return results


def read_notification(path: Path) -> dict[str, Any] | None:
    """The last notification the ConsoleNotifier appended (one JSON object per line)."""
    if not path.is_file():
        return None
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not lines:
        return None
    try:
        last = json.loads(lines[-1])
    except json.JSONDecodeError:
        return {"subject": "crawlmap", "message": lines[-1]}
    return last if isinstance(last, dict) else None
