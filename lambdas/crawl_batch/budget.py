"""A process-wide budget for the bytes CrawlBatch holds in bodies being read or decompressed.

Derived from AWS_LAMBDA_FUNCTION_MEMORY_SIZE (Lambda sets it; the local engine sets it per
function from the template's MemorySize): BODY_SHARE of the function's memory. Process-wide,
because on Lambda one process serves one invocation at a time, and locally the engine runs
concurrent invocations in one process, which must stay within one function's memory too.

Each page holds a Ticket; a ticket's reservation is set for each response it reads (its
Content-Length, or the body cap when the size is unknown or compressed), then lowered to the
body's length while the page is parsed, then released. Pages wait for room; none is dropped.

Deadlock-free by construction: tickets are admitted in arrival order, and all but the oldest
live ticket may only use `total - page_cap`, so the oldest ticket can always grow to a whole
page: it never waits for a page that waits for it. The budget is never exceeded: `used` only
grows under the lock, after the check.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

MEMORY_SIZE_ENV = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"  # megabytes, set by Lambda
DEFAULT_MEMORY_MB = 512  # the function's MemorySize in the template
BODY_SHARE = 0.5  # the rest is the runtime, the libraries, parsing one page, the results
# A page being parsed holds this many times its body: the bytes and the decoded text.
PARSE_HOLD_FACTOR = 2
MIB = 1024 * 1024


@dataclass
class _Waiter:
    ticket: Ticket
    amount: int
    wake: Callable[[], None]


class MemoryBudget:
    """`total` bytes shared by every page of the process; see the module docstring."""

    def __init__(self, total: int) -> None:
        self.total = max(1, total)
        self.used = 0
        self.peak = 0  # the most ever reserved at once (tests and logs read it)
        self._lock = threading.Lock()
        self._order = itertools.count()
        self._live: dict[int, Ticket] = {}  # admission order -> ticket
        self._waiting: list[_Waiter] = []

    def ticket(self, page_cap: int) -> Ticket:
        """A page's ticket; `page_cap` is the most it will ever hold (clamped to the total)."""
        with self._lock:
            number = next(self._order)
            ticket = Ticket(self, number, min(page_cap, self.total))
            self._live[number] = ticket
            return ticket

    def _oldest(self) -> int | None:
        return next(iter(self._live), None)  # dicts keep insertion order: admission order

    def _fits(self, ticket: Ticket, amount: int) -> bool:
        if ticket.number == self._oldest():
            return self.used + amount <= self.total
        # Everyone else leaves a whole page of room, so whichever ticket is the oldest can
        # always grow to its cap: it never waits for a younger page that waits for it.
        headroom = max(live.cap for live in self._live.values())
        return self.used + amount <= self.total - headroom

    def _grant_waiters(self) -> None:
        """Wake waiters in arrival order while they fit (called with the lock held)."""
        self._waiting.sort(key=lambda w: w.ticket.number)
        while self._waiting:
            first = self._waiting[0]
            if not self._fits(first.ticket, first.amount):
                # The oldest waiter may fit under the whole total when it is the oldest ticket;
                # nobody younger jumps ahead of it (arrival order, no starvation).
                return
            self._waiting.pop(0)
            self._take(first.ticket, first.amount)
            first.wake()

    def _take(self, ticket: Ticket, amount: int) -> None:
        if ticket.closed:
            return
        self.used += amount
        ticket.held += amount
        self.peak = max(self.peak, self.used)

    async def _grow(self, ticket: Ticket, amount: int) -> None:
        loop = asyncio.get_running_loop()
        granted = loop.create_future()
        with self._lock:
            if not self._waiting and self._fits(ticket, amount):
                self._take(ticket, amount)
                return

            def wake() -> None:
                loop.call_soon_threadsafe(_resolve, granted)

            self._waiting.append(_Waiter(ticket, amount, wake))
            self._grant_waiters()
        try:
            await granted
        except asyncio.CancelledError:
            with self._lock:  # a grant that came just before the cancel is freed on close
                self._waiting = [w for w in self._waiting if w.ticket is not ticket]
                self._grant_waiters()
            raise

    def _shrink(self, ticket: Ticket, amount: int) -> None:
        with self._lock:
            amount = min(amount, ticket.held)
            self.used -= amount
            ticket.held -= amount
            self._grant_waiters()

    def _close(self, ticket: Ticket) -> None:
        with self._lock:
            self.used -= ticket.held
            ticket.held = 0
            self._live.pop(ticket.number, None)
            self._grant_waiters()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


@dataclass(eq=False)
class Ticket:
    """One page's share of the budget."""

    budget: MemoryBudget
    number: int  # admission order
    cap: int
    held: int = field(default=0)
    closed: bool = field(default=False)

    async def hold(self, amount: int) -> None:
        """Hold exactly `amount` bytes (at most the cap): waits for room when growing."""
        if self.closed:
            return
        amount = max(0, min(amount, self.cap))
        if amount > self.held:
            await self.budget._grow(self, amount - self.held)
        elif amount < self.held:
            self.budget._shrink(self, self.held - amount)

    def close(self) -> None:
        self.closed = True
        self.budget._close(self)


def budget_bytes(
    environ: dict[str, str] | os._Environ[str] | None = None, memory_mb: int | None = None
) -> int:
    """BODY_SHARE of the function's memory size: `memory_mb` (the invocation context's
    memory_limit_in_mb, which Lambda and the local engine both set) or else
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE (megabytes)."""
    megabytes = memory_mb if memory_mb and memory_mb > 0 else None
    if megabytes is None:
        source = os.environ if environ is None else environ
        raw = source.get(MEMORY_SIZE_ENV, "").strip()
        try:
            megabytes = int(raw) if raw else DEFAULT_MEMORY_MB
        except ValueError:
            megabytes = DEFAULT_MEMORY_MB
    return int(max(128, megabytes) * MIB * BODY_SHARE)


_budgets: dict[int, MemoryBudget] = {}
_budgets_lock = threading.Lock()


def process_budget(memory_mb: int | None = None) -> MemoryBudget:
    """The process's budget for the function's memory size (one per size: the local engine may
    run functions of different sizes in one process)."""
    total = budget_bytes(memory_mb=memory_mb)
    with _budgets_lock:
        budget = _budgets.get(total)
        if budget is None:
            budget = _budgets[total] = MemoryBudget(total)
        return budget


# The ticket of the page whose task is running: the client's response hook reserves on it.
current_ticket: contextvars.ContextVar[Ticket | None] = contextvars.ContextVar(
    "crawl_batch_ticket", default=None
)
