"""The latest state of each page: which result sets it and what is written (pure).

A result sets the state of the URL it ended at (`final_url`): a page that redirected leaves
an alias state at its own URL pointing there, so one resource is stored once, and the next
run's `previous` for either spelling is the same state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass

from lambdas.common.models import PageResult, PreviousState
from lambdas.common.store.keys import is_older
from lambdas.common.store.lastseen import merged_seen, seen_of
from lambdas.common.store.model import PageState
from lambdas.common.urls import UrlError, canonicalize

LATEST_STATE_OUTCOMES = frozenset({"new", "changed", "unchanged"})
MAX_ALIAS_HOPS = 3  # an alias of an alias (a page moved twice), never a loop


@dataclass(frozen=True)
class StateWrite:
    """One state a result sets; `merge` (unchanged) keeps what it did not receive again."""

    state: PageState
    merge: bool


def state_url(result: PageResult) -> str:
    """The URL whose state a result sets: where it ended, if it followed a redirect.

    The final URL is as the fetch gave it (`HTTPS://a.test:443/pg/%7ea`), the listed one is
    canonical: compared and stored in canonical form, one resource has one state, and a
    redirect to another spelling of the page itself sets no alias.
    """
    final = result.get("final_url")
    if result.get("redirects") and isinstance(final, str) and final:
        with suppress(UrlError):  # one canonicalize refuses stays as it is
            final = canonicalize(final)
        if final != result["url"]:
            return final
    return result["url"]


def state_writes(result: PageResult, run_id: str, started_at: str) -> list[StateWrite]:
    """The states a result sets (none for failed and skipped pages: they keep the old one)."""
    if not result["ok"] or result["outcome"] not in LATEST_STATE_OUTCOMES:
        return []
    target = state_url(result)
    writes = [
        StateWrite(
            PageState(
                url=target,
                etag=result["etag"],
                last_modified=result["last_modified"],
                content_hash=result["content_hash"],
                run_id=run_id,
                fetched_at=result["fetched_at"],
                started_at=started_at,
                seen=seen_of(result),
                alias_of=None,
            ),
            merge=result["outcome"] == "unchanged",
        )
    ]
    if target != result["url"]:
        writes.append(StateWrite(alias_state(result["url"], target, run_id, started_at), False))
    return writes


def alias_state(url: str, target: str, run_id: str, started_at: str) -> PageState:
    return PageState(
        url=url,
        etag=None,
        last_modified=None,
        content_hash=None,
        run_id=run_id,
        fetched_at=None,
        started_at=started_at,
        seen={},
        alias_of=target,
    )


def state_from_result(result: PageResult, run_id: str, started_at: str) -> PageState | None:
    """The main state a result sets, or None (failed and skipped pages keep the old one)."""
    writes = state_writes(result, run_id, started_at)
    return writes[0].state if writes else None


def next_state(existing: PageState | None, candidate: PageState, outcome: str) -> PageState | None:
    """What to write as the page's latest state, or None to leave the existing one.

    A run that started before the one that wrote `existing` writes nothing. An `unchanged`
    result (often a bare 304) keeps the validators and fields it did not receive again.
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
        seen=merged_seen(existing.get("seen"), candidate.get("seen") or {}),
        alias_of=None,
    )


def _first_known(value: str | None, fallback: str | None) -> str | None:
    return fallback if value is None else value


def state_keys(results: Iterable[PageResult]) -> list[str]:
    """Every URL whose state the results may set (final URLs and their aliases)."""
    urls: dict[str, None] = {}
    for result in results:
        for write in state_writes(result, "", ""):
            urls[write.state["url"]] = None
    return list(urls)


def plan_state_writes(
    results: Sequence[PageResult],
    existing: dict[str, PageState],
    run_id: str,
    started_at: str,
) -> list[PageState]:
    """The latest-state records to write for a chunk of results (one per URL)."""
    planned: dict[str, PageState] = {}
    for result in results:
        for write in state_writes(result, run_id, started_at):
            url = write.state["url"]
            base = planned.get(url) or existing.get(url)
            chosen = next_state(base, write.state, "unchanged" if write.merge else "changed")
            if chosen is not None:
                planned[url] = chosen
    return list(planned.values())


def previous_from_state(state: PageState) -> PreviousState:
    previous = PreviousState(
        etag=state["etag"],
        last_modified=state["last_modified"],
        content_hash=state["content_hash"],
    )
    fingerprints = (state.get("seen") or {}).get("fingerprints")
    if isinstance(fingerprints, dict) and fingerprints:
        previous["fingerprints"] = fingerprints
    return previous


def unique_by_url(results: Iterable[PageResult]) -> list[PageResult]:
    """One result per URL (the last wins): a write batch may not name one key twice."""
    return list({result["url"]: result for result in results}.values())


def follow_aliases(
    urls: Sequence[str], read: Callable[[list[str]], dict[str, PageState]]
) -> dict[str, PageState]:
    """Each URL's state, through its alias when it has one (`read` fetches states by URL).
    An alias whose target has no state (or that loops) gives no state."""
    found = read(list(dict.fromkeys(urls)))
    resolved = {url: state for url, state in found.items() if not state.get("alias_of")}
    pending = {url: str(s["alias_of"]) for url, s in found.items() if s.get("alias_of")}
    for _ in range(MAX_ALIAS_HOPS):
        if not pending:
            break
        targets = read(list(dict.fromkeys(pending.values())))
        still: dict[str, str] = {}
        for url, target in pending.items():
            state = targets.get(target)
            if state is not None and state.get("alias_of"):
                still[url] = str(state["alias_of"])
            elif state is not None:
                resolved[url] = state
        pending = still
    return resolved
