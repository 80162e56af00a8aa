"""Per-host politeness in one batch: the lane's HostLimit (concurrency, spacing between request
starts) per host key, the run's HostNotes (no request before not_before), and the spacing a
batch keeps at its end so the lane's next batch cannot start early.

ListPages gives each batch `hosts: {host_key: HostLimit}`: its host's share of the per-run
limits in this lane (docs/CONTRACT.md, "Lanes"). A batch without `hosts` (an event from before
lanes) falls back to the settings (per_host_concurrency, per_host_delay). A redirect target
on a host the batch has no limit for counts against that host with concurrency 1 and the
settings' delay: it may be another lane's host, and one request at a time stays within any
share.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from lambdas.common.host_keys import host_key
from lambdas.common.models import HostLimit, HostNote
from lambdas.common.retries import MAX_BACKOFF_WAIT_S


class NoTimeLeftError(Exception):
    """The wait for this host's next slot would run past the invocation's deadline."""


class HostBackedOffError(Exception):
    """The host's run-wide note says to wait longer than this invocation can: `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def backed_off_reason(note: HostNote) -> str:
    return f"host backed off for this run ({note['reason']}), longer than this batch can wait"


class HostGate:
    """At most `limit.concurrency` requests in flight to one host, starts `spacing` apart, and
    none before the host's note's not_before."""

    def __init__(self, key: str, limit: HostLimit, note: HostNote | None = None) -> None:
        self.key = key
        self.limit = limit
        self.note = note
        self._slots = asyncio.Semaphore(limit["concurrency"])
        self._start_lock = asyncio.Lock()
        self._next_start = 0.0  # loop time
        self.last_start: float | None = None  # loop time of the last request start
        self.spacing = limit["delay_s"]

    def widen_spacing(self, seconds: float | None) -> None:
        """Space starts at least `seconds` apart (robots.txt Crawl-delay, already capped)."""
        if seconds is not None and seconds > self.spacing:
            self.spacing = seconds

    def note_later(self, note: HostNote) -> None:
        if self.note is None or note["not_before"] > self.note["not_before"]:
            self.note = note

    def _not_before(self, loop: asyncio.AbstractEventLoop) -> float:
        """The note's not_before in loop time (notes are in epoch seconds: shared by processes)."""
        if self.note is None:
            return 0.0
        return loop.time() + (self.note["not_before"] - time.time())

    @contextlib.asynccontextmanager
    async def slot(self, deadline: float) -> AsyncIterator[None]:
        async with self._slots:
            await self.wait_for_start(deadline)
            yield

    async def wait_for_start(self, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        async with self._start_lock:
            not_before = self._not_before(loop)
            if self.note is not None and not_before >= min(
                deadline, loop.time() + MAX_BACKOFF_WAIT_S
            ):
                raise HostBackedOffError(backed_off_reason(self.note))
            start = max(self._next_start, not_before, loop.time())
            if start >= deadline:
                raise NoTimeLeftError
            if start > loop.time():
                await asyncio.sleep(start - loop.time())
            now = loop.time()
            self.last_start = now
            self._next_start = now + self.spacing

    def next_start(self) -> float | None:
        """When the lane may next start a request to this host (loop time), if it is spaced."""
        if self.last_start is None or self.spacing <= 0:
            return None
        return self.last_start + self.spacing


@dataclass
class HostGates:
    """The batch's gates, one per host key, made on first use."""

    limits: Mapping[str, HostLimit]  # from the batch's `hosts`
    fallback: HostLimit  # hosts the batch has no limit for
    notes: Mapping[str, HostNote]  # the run's notes at batch start

    def __post_init__(self) -> None:
        self._gates: dict[str, HostGate] = {}

    def for_key(self, key: str) -> HostGate:
        gate = self._gates.get(key)
        if gate is None:
            limit = self.limits.get(key, self.fallback)
            gate = self._gates[key] = HostGate(key, limit, self.notes.get(key))
        return gate

    def for_url(self, url: str) -> HostGate:
        return self.for_key(host_key(url))

    def spacing_end(self) -> float | None:
        """The latest next-start of any spaced host (loop time): the batch returns after it."""
        ends = [end for gate in self._gates.values() if (end := gate.next_start()) is not None]
        return max(ends, default=None)


def batch_limits(
    hosts: Mapping[str, HostLimit] | None, *, concurrency: int, delay_s: float
) -> tuple[dict[str, HostLimit], HostLimit]:
    """(limits by host key, the limit for any other host) for a batch.

    With `hosts` (a lane's batch): exactly those numbers, and one request at a time for hosts
    not named. Without (old events): the settings' numbers for every host."""
    settings_limit = HostLimit(concurrency=concurrency, delay_s=delay_s)
    if hosts is None:
        return {}, settings_limit
    return dict(hosts), HostLimit(concurrency=1, delay_s=delay_s)


class PageSlot:
    """The host slot one page's fetch holds: taken for its URL, moved to a redirect target's
    host when a hop leaves the origin (so the target host's limits count the request)."""

    def __init__(self, gates: HostGates, deadline: float) -> None:
        self._gates = gates
        self._deadline = deadline
        self._held: contextlib.AsyncExitStack | None = None
        self.gate: HostGate | None = None

    async def take(self, url: str, *, spacing: float | None = None) -> HostGate:
        await self.release()
        gate = self._gates.for_url(url)
        gate.widen_spacing(spacing)
        stack = contextlib.AsyncExitStack()
        await stack.enter_async_context(gate.slot(self._deadline))
        self._held, self.gate = stack, gate
        return gate

    async def release(self) -> None:
        held, self._held, self.gate = self._held, None, None
        if held is not None:
            await held.aclose()

    async def __aenter__(self) -> PageSlot:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.release()
