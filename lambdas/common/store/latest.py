"""The latest state of each page: which result sets it and what is written (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from lambdas.common.models import PageResult, PreviousState
from lambdas.common.store.keys import is_older
from lambdas.common.store.model import PageState

LATEST_STATE_OUTCOMES = frozenset({"new", "changed", "unchanged"})


def state_from_result(result: PageResult, run_id: str, started_at: str) -> PageState | None:
    """The latest state a result sets, or None (failed and skipped pages keep the old one)."""
    if not result["ok"] or result["outcome"] not in LATEST_STATE_OUTCOMES:
        return None
    return PageState(
        url=result["url"],
        etag=result["etag"],
        last_modified=result["last_modified"],
        content_hash=result["content_hash"],
        run_id=run_id,
        fetched_at=result["fetched_at"],
        started_at=started_at,
    )


def next_state(existing: PageState | None, candidate: PageState, outcome: str) -> PageState | None:
    """What to write as the page's latest state, or None to leave the existing one.

    A run that started before the one that wrote `existing` writes nothing. An `unchanged`
    result (often a bare 304) keeps the validators it did not receive again.
    """
    if existing is None:
        return candidate
    if is_older(candidate["started_at"], existing["started_at"]):
        return None
    if outcome != "unchanged":
        return candidate
    return PageState(
        url=candidate["url"],
        etag=_first_known(candidate["etag"], existing["etag"]),
        last_modified=_first_known(candidate["last_modified"], existing["last_modified"]),
        content_hash=_first_known(candidate["content_hash"], existing["content_hash"]),
        run_id=candidate["run_id"],
        fetched_at=candidate["fetched_at"],
        started_at=candidate["started_at"],
    )


def _first_known(value: str | None, fallback: str | None) -> str | None:
    return fallback if value is None else value


def plan_state_writes(
    results: Sequence[PageResult],
    existing: dict[str, PageState],
    run_id: str,
    started_at: str,
) -> list[PageState]:
    """The latest-state records to write for a chunk of results (one per URL)."""
    planned: dict[str, PageState] = {}
    for result in results:
        candidate = state_from_result(result, run_id, started_at)
        if candidate is None:
            continue
        chosen = next_state(existing.get(candidate["url"]), candidate, result["outcome"])
        if chosen is not None:
            planned[candidate["url"]] = chosen
    return list(planned.values())


def previous_from_state(state: PageState) -> PreviousState:
    return PreviousState(
        etag=state["etag"],
        last_modified=state["last_modified"],
        content_hash=state["content_hash"],
    )


def unique_by_url(results: Iterable[PageResult]) -> list[PageResult]:
    """One result per URL (the last wins): a write batch may not name one key twice."""
    return list({result["url"]: result for result in results}.values())
