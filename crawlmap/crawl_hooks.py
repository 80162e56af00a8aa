"""crawlmap's hooks into the local engine: where the DynamoDB table, the SNS topic and the
page results live when a crawl runs on this machine.

- The table is SQLite (`<home>/crawlmap.db` unless told): every function's store opens it
  through CRAWLMAP_SQLITE_PATH (lambdas/common/store/), and the engine counts the items it
  writes (what DynamoDB would bill as write requests: meta.json `store_writes`).
- The topic is the run folder's notifications.txt (CRAWLMAP_NOTIFY_FILE); the last message
  becomes notification.json.
- A page list too long for an execution input goes to S3 first (`pages_s3`, which ListPages
  reads), as a user does on AWS.
- The run's results.jsonl is streamed from the store (one page at a time, in URL order), with
  each page's attempts raised to the CrawlBatch invocations that carried it when the state
  machine retried its batch.
- After the execution, however it ended, the run lease is released (StoreAndNotify does on a
  normal end; a failed or interrupted local run must not block the next one until it expires).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from crawlmap.engine.adapter import Invocation
from crawlmap.engine.hooks import RunContext, RunOutcome
from crawlmap.engine.template import REGION
from crawlmap.runfolder import RunFolderWriter, default_database
from lambdas.common import env as env_names
from lambdas.common import states
from lambdas.common.models import PageResult

STAGE_INPUT_OVER = 64 * 1024  # bytes of page list the engine moves to S3 (pages_s3) first


@dataclass(frozen=True)
class CrawlHooks:
    """The hooks for crawlmap's own template (one instance serves many runs)."""

    db_path: Path | None = None  # default: <home>/crawlmap.db
    stage_input_over_bytes: int = STAGE_INPUT_OVER  # longer page lists go to S3 (pages_s3)

    def database(self, home: Path) -> Path:
        return self.db_path or default_database(home)

    def start(self, run: RunContext) -> CrawlRun:
        database = self.database(run.home)
        database.parent.mkdir(parents=True, exist_ok=True)
        return CrawlRun(run, database, self.stage_input_over_bytes)


class CrawlRun:
    """One run's crawl-side state: the store it uses and what it counts."""

    def __init__(self, run: RunContext, database: Path, stage_over_bytes: int) -> None:
        self.run = run
        self.database = database
        self.stage_over_bytes = stage_over_bytes
        self.store_writes = 0
        # Only pages whose batch the state machine retried: url -> invocations that carried it
        # (every other page was carried once), so this stays small however long the run is.
        self.invoked_again: dict[str, int] = {}
        self._lock = threading.Lock()

    def environment(self) -> Mapping[str, str]:
        return {
            env_names.SQLITE_PATH: str(self.database.resolve()),
            env_names.NOTIFY_FILE: str(self.run.writer.notifications_path.resolve()),
            # Powertools would print EMF metrics and try X-Ray: neither exists here.
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }

    def session(self) -> AbstractContextManager[None]:
        return self._counting_store_writes()

    @contextlib.contextmanager
    def _counting_store_writes(self) -> Iterator[None]:
        """Count the items the run's store writes. Patches this run's own copy of the store
        module (the engine's fresh container of the handlers), nothing else."""
        store_cls = importlib.import_module("lambdas.common.store").SQLiteStore

        def counting(method: Callable[..., int]) -> Callable[..., int]:
            def wrapper(*args: Any, **kwargs: Any) -> int:
                written = method(*args, **kwargs)
                with self._lock:
                    self.store_writes += int(written)
                return written

            return wrapper

        store_cls.save_results = counting(store_cls.save_results)
        store_cls.save_summary = counting(store_cls.save_summary)
        yield

    def stage_input(
        self, execution_input: Mapping[str, Any], variables: Mapping[str, str]
    ) -> Mapping[str, Any]:
        """A long page list goes to S3 ({"pages_s3": ...}): an execution input over 256 KiB
        is refused on AWS, and one near it would make the first states' payloads grow with the
        page count."""
        pages = execution_input.get("pages")
        bucket = variables.get(env_names.BUCKET_NAME)
        size = len(json.dumps(execution_input).encode())
        if size <= self.stage_over_bytes or not isinstance(pages, list) or not bucket:
            return execution_input
        key = f"inputs/{self.run.run_id}/pages.json"
        boto3.client("s3", region_name=REGION).put_object(
            Bucket=bucket, Key=key, Body=json.dumps(pages).encode()
        )
        self.run.notes.append(
            f"execution input of {size} bytes: {len(pages)} pages staged at s3://{bucket}/{key}"
        )
        staged = {k: v for k, v in execution_input.items() if k != "pages"}
        return {**staged, "pages_s3": f"s3://{bucket}/{key}"}

    def on_invocation(self, invocation: Invocation) -> None:
        event = invocation.event if isinstance(invocation.event, dict) else {}
        retry_count = event.get("retry_count")
        pages = event.get("pages")
        if not isinstance(retry_count, int) or retry_count < 1 or not isinstance(pages, list):
            return
        with self._lock:
            for page in pages:
                url = page.get("url") if isinstance(page, dict) else None
                if isinstance(url, str):
                    seen = self.invoked_again.get(url, 1)
                    self.invoked_again[url] = max(seen, retry_count + 1)

    def finished(self) -> None:
        release_run_lease(self.database, self.run.run_id)

    def save(
        self, writer: RunFolderWriter, output: Any, events: Sequence[Mapping[str, Any]]
    ) -> RunOutcome:
        writer.write_results(self.results())
        notification = read_notification(writer.notifications_path)
        if notification is not None:
            writer.write_notification(notification)
        summary = output if isinstance(output, dict) and "total" in output else None
        return RunOutcome(
            summary=summary or summary_from_history(events),
            meta={"store_db": str(self.database.resolve()), "store_writes": self.store_writes},
        )

    def results(self) -> Iterator[PageResult]:
        """The run's PageResults from the store, in URL order, streamed.

        `attempts` also counts the state machine's retries of a page's batch: StoreAndNotify
        reads a caught TransientCrawlError's attempt count, but a retried batch finally caught
        on another error (a timeout, an unexpected exception) has failure records that say 1.
        """
        from lambdas.common.store import SQLiteStore

        if not self.database.exists():
            return
        store = SQLiteStore(self.database)
        try:
            for result in store.run_results(self.run.run_id):
                invoked = self.invoked_again.get(str(result.get("url")), 0)
                attempts = result.get("attempts")
                skipped = result.get("outcome") == "skipped"  # never fetched: 0 stays true
                if isinstance(attempts, int) and invoked > attempts and not skipped:
                    result = {**result, "attempts": invoked}
                yield result
        finally:
            store.close()


def summary_from_history(events: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """StoreAndNotify's output (the RunSummary), also when CheckFailureRatio failed the run."""
    for event in reversed(events):
        details = event.get("stateExitedEventDetails")
        if details and details.get("name") == states.STORE_AND_NOTIFY:
            summary: dict[str, Any] | None = json.loads(details.get("output") or "null")
            return summary
    return None


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


def release_run_lease(database: Path, run_id: str) -> None:
    from lambdas.common.store import SQLiteStore

    store = SQLiteStore(database)
    try:
        store.release_run_lease(run_id)
    except Exception:  # a broken store is reported by the run itself, not here
        logging.getLogger(__name__).debug("run lease not released", exc_info=True)
    finally:
        store.close()
