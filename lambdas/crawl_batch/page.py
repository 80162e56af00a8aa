"""Crawling one page of a batch: robots.txt verdict, host slot, memory ticket, conditional GET,
judging the response, and the in-handler retries (layer 3 of lambdas/common/retries.py).

Containment by construction: whatever one page's fetch, decode or parse raises becomes that
page's failure record with its reason, never another page's and never the batch's (`crawl`
catches everything but cancellation). Known transient failures (FetchError.transient, 408,
429, 5xx) are retried; everything else is permanent and is not.

- 2xx: parsed if HTML/XHTML (other kinds: hashed whole), the fingerprint decides new /
  changed / unchanged against `previous`;
- 304: unchanged (validators and hashes carried over from `previous`);
- transient: a one-page batch raises TransientCrawlError (Step Functions' Retry shows in the
  history), unless a short Retry-After can be honoured here; a multi-page batch retries here;
- a Retry-After over max_retry_after, or longer than Step Functions' retries could wait, fails
  the page with the reason and notes the host for the run (every lane backs off).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from lambdas.common.errors import TransientCrawlError
from lambdas.common.host_keys import host_key
from lambdas.common.models import HostNote, PageResult, PageTask
from lambdas.common.observability import logger
from lambdas.common.retries import (
    CRAWL_BATCH_RETRY,
    IN_HANDLER_BACKOFF_S,
    IN_HANDLER_MAX_ATTEMPTS,
    IN_HANDLER_MIN_ATTEMPT_S,
)
from lambdas.common.robots import ALLOW_ALL, RobotsCache, RobotsRules
from lambdas.common.safe_http import (
    FetchError,
    FetchLimits,
    HopRefusedError,
    SafeResponse,
    fetch_async,
    is_transient_status,
    parse_retry_after,
)
from lambdas.common.settings import Settings
from lambdas.crawl_batch.budget import PARSE_HOLD_FACTOR, MemoryBudget, current_ticket
from lambdas.crawl_batch.hosts import (
    HostBackedOffError,
    HostGate,
    HostGates,
    NoTimeLeftError,
    PageSlot,
)
from lambdas.crawl_batch.notes import HostNotes, backoff_note
from lambdas.crawl_batch.parse import Selector, page_facts
from lambdas.crawl_batch.response_budget import page_cap
from lambdas.crawl_batch.results import (
    failed_result,
    not_modified_result,
    skipped_result,
    success_result,
)

MAX_DETAIL_CHARS = 200


def describe(exc: BaseException) -> str:
    """An exception as a short reason: its class and the start of its message."""
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    return f"{name}: {detail[:MAX_DETAIL_CHARS]}" if detail else name


@dataclass
class _Transient:
    reason: str
    status: int | None = None
    retry_after: float | None = None
    response: SafeResponse | None = None


@dataclass
class _HopState:
    """What a redirect walk learned, whatever the fetch then raised."""

    refused_by_error: bool = False  # the target's robots.txt was unreachable: a failure
    backed_off: str | None = None  # the target's host is backed off for the run


@dataclass
class BatchContext:
    """What every page of one invocation shares."""

    run_id: str
    settings: Settings
    retry_count: int  # attempts Step Functions already made
    single_page: bool
    deadline: float  # loop time
    client: httpx.AsyncClient
    selectors: tuple[Selector, ...]
    gates: HostGates
    notes: HostNotes
    budget: MemoryBudget
    limits: FetchLimits = field(init=False)
    robots: RobotsCache = field(init=False)

    def __post_init__(self) -> None:
        self.limits = FetchLimits.from_settings(self.settings)
        self.robots = RobotsCache(
            self.client,
            self.limits,
            user_agent=self.settings.user_agent,
            max_crawl_delay=self.settings.max_crawl_delay,
            deadline=lambda: self.deadline,
        )

    def time_left(self) -> float:
        return self.deadline - asyncio.get_running_loop().time()


async def crawl_page(batch: BatchContext, task: PageTask) -> PageResult:
    """The page's result; raises only TransientCrawlError (one-page batches) or cancellation."""
    ticket = batch.budget.ticket(page_cap(batch.limits.max_bytes))
    token = current_ticket.set(ticket)
    try:
        return await _PageCrawl(batch, task).run()
    except TransientCrawlError:
        raise
    except Exception as exc:  # containment: anything else is this page's failure, not the batch's
        reason = f"could not crawl the page ({describe(exc)})"
        logger.warning("page failed", extra={"url": task["url"], "error": reason})
        return failed_result(task["url"], reason, attempts=batch.retry_count + 1)
    finally:
        current_ticket.reset(token)
        ticket.close()


class _PageCrawl:
    def __init__(self, batch: BatchContext, task: PageTask) -> None:
        self.batch = batch
        self.task = task
        self.url = task["url"]
        self.attempts = 0  # in this invocation

    @property
    def total_attempts(self) -> int:
        return self.batch.retry_count + self.attempts

    def _transient_error(self, reason: str) -> TransientCrawlError:
        return TransientCrawlError(f"{self.url}: {reason}", attempt=self.total_attempts)

    async def run(self) -> PageResult:
        rules, verdict_result = await self._robots()
        if verdict_result is not None:
            return verdict_result
        headers = _conditional_headers(self.task)
        while True:
            self.attempts += 1
            outcome = await self._attempt(rules, headers)
            if not isinstance(outcome, _Transient):
                return outcome
            wait = await self._retry_wait(outcome)
            if isinstance(wait, float):
                await asyncio.sleep(wait)
                continue
            if wait == "raise":
                raise self._transient_error(outcome.reason)
            return failed_result(
                self.url,
                outcome.reason,
                attempts=self.total_attempts,
                status=outcome.status,
                response=outcome.response,
            )

    async def _robots(self) -> tuple[RobotsRules, PageResult | None]:
        settings = self.batch.settings
        if not settings.obey_robots:
            return ALLOW_ALL, None
        verdict = self.task.get("robots")
        if verdict is not None:  # ListPages read this origin's robots.txt once for the run
            if not verdict["allowed"]:
                why = verdict["reason"] or "robots.txt disallows"
                return ALLOW_ALL, skipped_result(self.url, why, attempts=self.batch.retry_count)
            return RobotsRules(parser=None, crawl_delay=verdict["crawl_delay"]), None
        rules = await _rules_for(self.batch.robots, self.url)
        reason = rules.verdict(self.url, settings.user_agent)
        if rules.unavailable and reason is not None:
            # Not crawled because of an error, not by policy: a failure, retried as one.
            self.attempts = 1
            if self.batch.single_page:
                raise self._transient_error(reason)
            return rules, failed_result(self.url, reason, attempts=self.total_attempts)
        if reason is not None:
            return rules, skipped_result(self.url, reason, attempts=self.batch.retry_count)
        return rules, None

    async def _attempt(
        self, rules: RobotsRules, headers: dict[str, str]
    ) -> PageResult | _Transient:
        batch = self.batch
        hops = _HopState()
        ticket = current_ticket.get()
        if ticket is not None:
            await ticket.hold(0)  # between attempts a page holds nothing: waiters hold nothing
        try:
            async with PageSlot(batch.gates, batch.deadline) as slot:
                await slot.take(self.url, spacing=rules.crawl_delay)
                response = await fetch_async(
                    batch.client,
                    self.url,
                    batch.limits,
                    headers=headers,
                    deadline=batch.deadline,
                    hop_check=self._hop_check(slot, hops),
                )
        except HostBackedOffError as exc:  # no request was made in this attempt
            reason = hops.backed_off or exc.reason
            return failed_result(self.url, reason, attempts=self.total_attempts - 1)
        except NoTimeLeftError:
            return _Transient("no time left in this invocation (host spacing)")
        except HopRefusedError as exc:
            if hops.refused_by_error:
                return failed_result(self.url, exc.reason, attempts=self.total_attempts)
            return skipped_result(self.url, exc.reason, attempts=self.total_attempts)
        except FetchError as exc:
            if hops.backed_off is not None:
                return failed_result(self.url, hops.backed_off, attempts=self.total_attempts)
            if not exc.transient:
                return failed_result(self.url, exc.reason, attempts=self.total_attempts)
            return _Transient(exc.reason)
        except Exception as exc:  # what a fetch should not raise (a hostile redirect, ...)
            if hops.backed_off is not None:
                return failed_result(self.url, hops.backed_off, attempts=self.total_attempts)
            reason = f"could not fetch the page ({describe(exc)})"
            logger.warning("page fetch failed", extra={"url": self.url, "error": reason})
            return failed_result(self.url, reason, attempts=self.total_attempts)
        if ticket is not None:
            # While the page is parsed it holds its body and the decoded text (about as large
            # again; lexbor's tree is short-lived), within the page's cap.
            await ticket.hold(PARSE_HOLD_FACTOR * len(response.body))
        try:
            return self._judge(response)
        except Exception as exc:  # decode or parse: this page's failure only
            reason = f"could not process the response ({describe(exc)})"
            logger.warning("page processing failed", extra={"url": self.url, "error": reason})
            return failed_result(
                self.url,
                reason,
                attempts=self.total_attempts,
                status=response.status,
                response=response,
            )

    def _hop_check(self, slot: PageSlot, hops: _HopState) -> Callable[[str], Awaitable[str | None]]:
        settings = self.batch.settings
        robots = self.batch.robots

        async def check(target: str) -> str | None:
            crawl_delay: float | None = None
            if settings.obey_robots:
                rules = await _rules_for(robots, target)
                verdict = rules.verdict(target, settings.user_agent)
                if verdict is not None:
                    hops.refused_by_error = rules.unavailable
                    return f"{verdict} (redirect target {target})"
                crawl_delay = rules.crawl_delay
            try:  # the request to the target counts against the target host's limits
                await slot.take(target, spacing=crawl_delay)
            except HostBackedOffError as exc:
                hops.backed_off = f"{exc.reason} (redirect target {target})"
                raise
            return None

        return check

    def _judge(self, response: SafeResponse) -> PageResult | _Transient:
        status = response.status
        task, attempts = self.task, self.total_attempts
        if 200 <= status < 300:
            facts = page_facts(
                response.body,
                response.content_type,
                response.headers.get("content-type"),
                response.url,
                self.batch.selectors,
            )
            return success_result(task, response, facts, attempts=attempts)
        if status == 304:
            if task["previous"] is None:
                return failed_result(
                    self.url, "HTTP 304 to an unconditional request", attempts=attempts, status=304
                )
            return not_modified_result(task, response, attempts=attempts)
        if is_transient_status(status):
            retry_after = None
            if status in (429, 503):
                retry_after = parse_retry_after(response.headers.get("retry-after"))
            return _Transient(
                f"HTTP {status}", status=status, retry_after=retry_after, response=response
            )
        reason = f"HTTP {status} without a Location" if 300 <= status < 400 else f"HTTP {status}"
        return failed_result(self.url, reason, attempts=attempts, status=status, response=response)

    async def _note_backoff(self, transient: _Transient) -> None:
        """A 429/503 that asks for a pause: every lane of the run backs off the host."""
        if transient.status is None:
            return
        note = backoff_note(transient.status, transient.retry_after)
        if note is None:
            return
        key = host_key(transient.response.url if transient.response else self.url)
        gate = self.batch.gates.for_key(key)
        gate.note_later(note)
        try:
            effective = await asyncio.to_thread(
                self.batch.notes.put_host_note, self.batch.run_id, key, note
            )
        except Exception as exc:  # the note is politeness, not the page's result
            logger.warning(
                "could not store a host note", extra={"host": key, "error": describe(exc)}
            )
            return
        gate.note_later(effective)

    async def _refresh_note(self, gate: HostGate) -> None:
        """Another lane may have backed the host off since the batch started."""
        try:
            notes = await asyncio.to_thread(
                self.batch.notes.host_notes, self.batch.run_id, [gate.key]
            )
        except Exception as exc:
            logger.warning(
                "could not read host notes", extra={"host": gate.key, "error": describe(exc)}
            )
            return
        note: HostNote | None = notes.get(gate.key)
        if note is not None:
            gate.note_later(note)

    async def _retry_wait(self, transient: _Transient) -> float | str:
        """Seconds to wait before trying again here, "raise" (Step Functions retries) or
        "fail" (the reason is in transient.reason)."""
        await self._note_backoff(transient)
        settings, single = self.batch.settings, self.batch.single_page
        retry_after = transient.retry_after
        can_raise = single and (
            retry_after is None or retry_after <= CRAWL_BATCH_RETRY.worst_case_wait_s()
        )
        if retry_after is not None:
            if retry_after > settings.max_retry_after:
                transient.reason += (
                    f" (Retry-After {retry_after:g}s is over the {settings.max_retry_after:g}s cap)"
                )
                return "fail"
            wait = retry_after
        elif single:
            return "raise"  # Step Functions' Retry does the backing off, visibly
        else:
            base = IN_HANDLER_BACKOFF_S[min(self.attempts - 1, len(IN_HANDLER_BACKOFF_S) - 1)]
            wait = base * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not crypto
        if self.attempts >= IN_HANDLER_MAX_ATTEMPTS:
            transient.reason += f" (after {self.attempts} attempts)"
            return "raise" if can_raise else "fail"
        if wait + IN_HANDLER_MIN_ATTEMPT_S > self.batch.time_left():
            if can_raise:
                return "raise"
            if retry_after is not None:
                transient.reason += (
                    f" (Retry-After {retry_after:g}s is longer than this invocation can wait)"
                )
            return "fail"
        await self._refresh_note(self.batch.gates.for_url(self.url))
        return float(wait)


async def _rules_for(robots: RobotsCache, url: str) -> RobotsRules:
    """robots.txt rules, fetched outside the page's memory ticket: the fetch may be shared by
    pages of the origin, and a page must not wait for room on behalf of another. robots.txt
    bodies are small (at most ROBOTS_MAX_BYTES, once per origin per invocation)."""
    token = current_ticket.set(None)
    try:
        return await robots.rules_for(url)
    finally:
        current_ticket.reset(token)


def _header_safe(value: str | None) -> str | None:
    """A stored validator usable as a header value (latin-1, no line breaks), else None."""
    if not value or "\r" in value or "\n" in value:
        return None
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return None
    return value


def conditional_headers(task_previous: object) -> dict[str, str]:
    headers: dict[str, str] = {}
    if not isinstance(task_previous, dict):
        return headers
    etag = _header_safe(task_previous.get("etag"))
    last_modified = _header_safe(task_previous.get("last_modified"))
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def _conditional_headers(task: PageTask) -> dict[str, str]:
    return conditional_headers(task["previous"])
