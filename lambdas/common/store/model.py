"""What the store keeps and the interfaces the functions use (docs/CONTRACT.md, "Store")."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, NotRequired, Protocol, TypedDict

from lambdas.common.models import HostNote, PageResult, PreviousState, RunSummary


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
    # The page as last seen (lastseen.STORED_FIELDS: title, h1, links, ..., fingerprints,
    # changed_fields): what an `unchanged` result is completed with. Absent before v0.2.
    seen: NotRequired[dict[str, Any]]
    # Set when this URL redirected: the state lives under the final URL (one resource, one
    # state); every other field but run_id/started_at/fetched_at is then None.
    alias_of: NotRequired[str | None]


class HostNotes(Protocol):
    """Per-run notes on hosts (Retry-After back-off), shared by every lane of a run.

    What CrawlBatch needs of the store, and nothing more.
    """

    def host_notes(self, run_id: str, hosts: Iterable[str]) -> dict[str, HostNote]:
        """The note of each host that has one in this run (hosts without one are absent)."""
        ...

    def put_host_note(self, run_id: str, host: str, note: HostNote) -> HostNote:
        """Record `note` unless the host already has a later `not_before`; return the note
        now in effect (ours, or the later one another lane wrote first)."""
        ...


class RunLease(TypedDict):
    """Who holds the run lease: at most one run of a deployment (one table, one SQLite file)
    crawls at a time (docs/CONTRACT.md, "Overlapping runs")."""

    run_id: str
    started_at: str
    expires_at: float  # epoch seconds: after this the lease is free to take over


class RunLeases(Protocol):
    """The run lease: ListPages takes it, StoreAndNotify releases it. Both conditional."""

    def acquire_run_lease(self, lease: RunLease, now: float) -> RunLease:
        """Take the lease for lease["run_id"] when it is free, expired (expires_at <= now) or
        already held by that run (a retried ListPages); return the lease in effect: ours,
        or the live lease of another run."""
        ...

    def release_run_lease(self, run_id: str) -> bool:
        """Drop the lease only if `run_id` holds it; True when it did."""
        ...


class Store(HostNotes, RunLeases, Protocol):
    def previous_states(self, urls: Iterable[str]) -> dict[str, PreviousState]:
        """The latest successful state of each URL that has one (through its alias, if the
        URL redirected when last crawled)."""
        ...

    def aliases(self, urls: Iterable[str]) -> dict[str, str]:
        """The final URL each of `urls` redirected to when last crawled (others are absent)."""
        ...

    def save_results(self, run_id: str, results: Iterable[PageResult], started_at: str) -> int:
        """Write each page's record and its latest state; return the number of items written.

        `unchanged` results are completed in place with the fields of the page as last seen
        (marked `carried`), so the records written, and the caller's results, describe it.
        """
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


def later_note(existing: HostNote | None, candidate: HostNote) -> HostNote:
    """The note that wins: the later not_before (a tie keeps the one already there)."""
    if existing is None or candidate["not_before"] > existing["not_before"]:
        return candidate
    return existing
