"""StoreAndNotify: write a run's results and summary, publish the notification, return it.

A skipped run (RunInfo.skipped_reason: another run held the run lease) has no results: its
summary says why and is stored and published like any other. Every run that gets here
releases the run lease if it holds it.

Results stream through in chunks: the store writes each chunk and the counter counts it, so
nothing holds the whole run. Idempotent: the outcome of each page travels in its result and
store keys are deterministic, so a second run writes and counts exactly the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lambdas.common.errors import InvalidInputError
from lambdas.common.models import PageResult, RunInfo, RunSummary
from lambdas.common.notifier import Notifier
from lambdas.common.observability import logger
from lambdas.common.store import Store, chunked, parse_instant
from lambdas.store_and_notify.failures import Reason
from lambdas.store_and_notify.results import ResultReader, run_results
from lambdas.store_and_notify.summary import SummaryCounter, message_text, subject_line

WRITE_CHUNK = 500  # results per store call: bounded memory, few round trips


@dataclass(frozen=True)
class StoringContext:
    store: Store
    notifier: Notifier
    reader: ResultReader
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


@dataclass(frozen=True)
class StoreOutcome:
    summary: RunSummary
    store_writes: int


@dataclass(frozen=True)
class MapOutput:
    """StoreAndNotify's input, parsed: the run and what its Map left."""

    run: RunInfo
    lanes: Any  # `lanes` (v0.2), or v0.1's `batches` when `legacy`
    map_error: Reason | None = None
    legacy: bool = False


def parse_run(event: object) -> MapOutput:
    """The `run` (RunInfo from ListPages), `lanes` and `map_error` of StoreAndNotify's input."""
    if not isinstance(event, Mapping):
        raise InvalidInputError("input", "must be a JSON object with run and lanes")
    run = event.get("run")
    if not isinstance(run, Mapping):
        raise InvalidInputError("run", "must be the run object ListPages returned")
    for name in ("run_id", "started_at"):
        if not isinstance(run.get(name), str) or not run[name]:
            raise InvalidInputError(f"run.{name}", "must be a non-empty string")
    try:
        parse_instant(run["started_at"])
    except ValueError:
        raise InvalidInputError("run.started_at", "is not an ISO 8601 time") from None
    if run.get("mode") not in ("inline", "distributed"):
        raise InvalidInputError("run.mode", "must be inline or distributed")
    info: RunInfo = dict(run)  # type: ignore[assignment]
    map_error = Reason.of(event.get("map_error"))
    if "map_error" in event and map_error is None:
        raise InvalidInputError("map_error", "must be the Map's caught {Error, Cause}")
    if "lanes" in event:
        return MapOutput(run=info, lanes=event["lanes"], map_error=map_error)
    if "batches" in event:  # v0.1's input
        return MapOutput(run=info, lanes=event["batches"], map_error=map_error, legacy=True)
    raise InvalidInputError("lanes", "missing: the Map's results")


def map_results(parsed: MapOutput, reader: ResultReader) -> Iterator[PageResult]:
    if parsed.legacy:
        return run_results(parsed.lanes, reader)
    return run_results(parsed.lanes, reader, run=parsed.run, map_error=parsed.map_error)


def store_results(event: object, context: StoringContext) -> StoreOutcome:
    """Write every result and the summary; return the summary (not yet published)."""
    parsed = parse_run(event)
    run = parsed.run
    counter = SummaryCounter()
    writes = 0
    for chunk in chunked(map_results(parsed, context.reader), WRITE_CHUNK):
        for result in chunk:
            counter.add(result)
        writes += context.store.save_results(run["run_id"], chunk, run["started_at"])
    summary = counter.summary(run, context.clock())
    writes += context.store.save_summary(summary)
    return StoreOutcome(summary=summary, store_writes=writes)


def store_and_notify(event: object, context: StoringContext) -> StoreOutcome:
    """The StoreAndNotify task: store, then publish; the summary is the execution output."""
    outcome = store_results(event, context)
    context.notifier.publish(subject_line(outcome.summary), message_text(outcome.summary))
    release_run_lease(context.store, outcome.summary["run_id"])
    return outcome


def release_run_lease(store: Store, run_id: str) -> None:
    """The run is over: let the next one run (only if this run holds the lease: a skipped run
    leaves the running one's alone). A failure here is logged, not raised: the lease expires
    by itself, and the results are already stored and published."""
    try:
        store.release_run_lease(run_id)
    except Exception:
        logger.exception("could not release the run lease (it expires by itself)")
