"""CPU time per Lambda invocation on the local engine, apart from this machine's load.

Wall-clock durations of in-process invocations grow with CPU contention (other invocations,
other processes); the CPU time an invocation used does not, much. An invocation's CPU is:

- its own thread's CPU (time.thread_time() around the handler call, in the calling thread);
- plus its share of the *helper threads* handlers hand work to: CrawlBatch runs its crawl on
  one warm asyncio loop thread ("crawl-batch-loop", lambdas/crawl_batch/warm.py) that every
  concurrent CrawlBatch invocation shares, and that loop's default executor ("asyncio_*",
  asyncio.to_thread: the host notes' store reads). Their CPU is read with
  time.pthread_getcpuclockid and shared out between the invocations running at the time,
  equally, at every invocation start and end (processor sharing): the total is exact, the
  split between overlapping invocations an approximation.

Garbage collections are left out: locally the collector walks the whole engine's heap (moto's
backends, the template, the interpreter), not the function's own, and charges it to whichever
thread happened to allocate (the same run measured 32 ms or 332 ms of ListPages CPU). A
gc.callbacks hook sums each thread's CPU inside collections, and that is subtracted.

Calls the handlers make to the local stand-ins for AWS (moto's S3, the SQLite store) run in
these threads and count as CPU; on AWS they are network waits of a few ms each.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

HELPER_THREAD_PREFIXES = ("crawl-batch-loop", "asyncio_")


class _GcClock:
    """CPU seconds each thread spent in garbage collections (gc.callbacks, process-wide)."""

    def __init__(self) -> None:
        self.spent: dict[int, float] = {}
        self._started = threading.local()
        self._installed = False
        self._lock = threading.Lock()

    def install(self) -> None:
        with self._lock:
            if not self._installed:
                gc.callbacks.append(self._callback)
                self._installed = True

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started.at = time.thread_time()
            return
        started = getattr(self._started, "at", None)
        if started is not None:
            ident = threading.get_ident()
            self.spent[ident] = self.spent.get(ident, 0.0) + time.thread_time() - started
            self._started.at = None

    def of(self, ident: int) -> float:
        return self.spent.get(ident, 0.0)


_gc_clock = _GcClock()


def _thread_cpu_s(ident: int) -> float | None:
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(ident))
    except (OSError, AttributeError, OverflowError):  # gone, or no per-thread clocks here
        return None


@dataclass
class CpuReading:
    """What one invocation used: filled in when its `measure` block ends."""

    own_ms: float = 0.0
    shared_ms: float = 0.0

    @property
    def ms(self) -> float:
        return self.own_ms + self.shared_ms


class CpuMeter:
    """Measures the CPU time of concurrent invocations (see the module docstring)."""

    def __init__(self, helper_prefixes: tuple[str, ...] = HELPER_THREAD_PREFIXES) -> None:
        self._prefixes = helper_prefixes
        self._lock = threading.Lock()
        self._active: dict[int, CpuReading] = {}
        self._seen: dict[int, float] = {}  # helper thread ident -> its CPU at the last event
        _gc_clock.install()

    def _share_helper_cpu(self) -> None:
        """Share the helper threads' CPU since the last event among the active invocations."""
        used = 0.0
        seen: dict[int, float] = {}
        for thread in threading.enumerate():
            if thread.ident is None or not thread.name.startswith(self._prefixes):
                continue
            now = _thread_cpu_s(thread.ident)
            if now is None:
                continue
            now -= _gc_clock.of(thread.ident)
            seen[thread.ident] = now
            used += max(0.0, now - self._seen.get(thread.ident, 0.0))
        self._seen = seen
        if self._active and used:
            share_ms = used * 1000 / len(self._active)
            for reading in self._active.values():
                reading.shared_ms += share_ms

    @contextmanager
    def measure(self) -> Iterator[CpuReading]:
        reading = CpuReading()
        key = id(reading)
        with self._lock:
            self._share_helper_cpu()  # what ran before this invocation is not its own
            self._active[key] = reading
        ident = threading.get_ident()
        started = time.thread_time() - _gc_clock.of(ident)
        try:
            yield reading
        finally:
            reading.own_ms = (time.thread_time() - _gc_clock.of(ident) - started) * 1000
            with self._lock:
                self._share_helper_cpu()
                del self._active[key]
