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

CPU time is also normalized for this core's speed at the time (SpeedProbe): load makes the same
work take more CPU time, not only more wall time.

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


PROBE_PERIOD_S = 0.02  # how often the speed probe runs while invocations are active
PROBE_LOOPS = 2000  # a fixed piece of pure-Python work: ~0.1 ms on an unloaded core
CALIBRATION_SAMPLES = 30


def _probe_work() -> int:
    total = 0
    for i in range(PROBE_LOOPS):
        total += i * i % 7
    return total


class SpeedProbe:
    """How fast this core runs Python right now, against the fastest it was seen to.

    CPU time itself grows with load: a busy hyperthread sibling or a cold cache make the same
    work take more CPU time (the same 10-page batch measured 9 ms and 17 ms). The probe times
    a fixed piece of work; speed = fastest time seen / this time (<= 1), and CPU time is
    multiplied by it: what the work would have taken on the unloaded core.
    """

    def __init__(self) -> None:
        self.fastest_s = min(self._time() for _ in range(CALIBRATION_SAMPLES))

    @staticmethod
    def _time() -> float:
        started = time.thread_time()
        _probe_work()
        return max(time.thread_time() - started, 1e-9)

    def speed(self) -> float:
        took = self._time()
        self.fastest_s = min(self.fastest_s, took)
        return self.fastest_s / took


_probe: SpeedProbe | None = None
_probe_lock = threading.Lock()


def speed_probe() -> SpeedProbe:
    """The process's probe: one fastest time for every run of the process, so two runs are
    normalized against the same speed."""
    global _probe
    with _probe_lock:
        if _probe is None:
            _probe = SpeedProbe()
        return _probe


@dataclass
class CpuReading:
    """What one invocation used (normalized to the unloaded core): filled in as it runs."""

    own_ms: float = 0.0
    shared_ms: float = 0.0
    raw_ms: float = 0.0  # the same, not normalized

    @property
    def ms(self) -> float:
        return self.own_ms + self.shared_ms


@dataclass
class _Active:
    reading: CpuReading
    ident: int
    last_s: float  # its thread's CPU (less collections) when last accounted


def _own_cpu_s(ident: int) -> float:
    now = _thread_cpu_s(ident)
    return (now if now is not None else 0.0) - _gc_clock.of(ident)


class CpuMeter:
    """Measures the CPU time of concurrent invocations (see the module docstring)."""

    def __init__(self, helper_prefixes: tuple[str, ...] = HELPER_THREAD_PREFIXES) -> None:
        self._prefixes = helper_prefixes
        self._lock = threading.Lock()
        self._active: dict[int, _Active] = {}
        self._seen: dict[int, float] = {}  # helper thread ident -> its CPU at the last event
        self._speed = 1.0
        self._ticker: threading.Thread | None = None
        _gc_clock.install()

    def _account(self) -> None:
        """Charge the CPU used since the last accounting, at the current speed: each active
        invocation its own thread's, and an equal share of the helper threads'."""
        speed = self._speed
        for active in self._active.values():
            now = _own_cpu_s(active.ident)
            used_ms = max(0.0, now - active.last_s) * 1000
            active.last_s = now
            active.reading.own_ms += used_ms * speed
            active.reading.raw_ms += used_ms
        used = 0.0
        seen: dict[int, float] = {}
        for thread in threading.enumerate():
            if thread.ident is None or not thread.name.startswith(self._prefixes):
                continue
            cpu = _thread_cpu_s(thread.ident)
            if cpu is None:
                continue
            seen[thread.ident] = cpu - _gc_clock.of(thread.ident)
            used += max(0.0, seen[thread.ident] - self._seen.get(thread.ident, 0.0))
        self._seen = seen
        if self._active and used:
            share_ms = used * 1000 / len(self._active)
            for active in self._active.values():
                active.reading.shared_ms += share_ms * speed
                active.reading.raw_ms += share_ms

    def _tick(self) -> None:
        """While invocations run: probe the speed, then account at it (the ticker thread)."""
        while True:
            time.sleep(PROBE_PERIOD_S)
            speed = speed_probe().speed()
            with self._lock:
                self._account()  # the interval just ended, at the speed it was seen to run
                self._speed = speed
                if not self._active:
                    self._ticker = None
                    return

    @contextmanager
    def measure(self) -> Iterator[CpuReading]:
        reading = CpuReading()
        ident = threading.get_ident()
        key = id(reading)
        speed_probe()
        with self._lock:
            self._account()  # what ran before this invocation is not its own
            self._active[key] = _Active(reading, ident, _own_cpu_s(ident))
            if self._ticker is None:
                self._ticker = threading.Thread(target=self._tick, name="cpu-meter", daemon=True)
                self._ticker.start()
        try:
            yield reading
        finally:
            with self._lock:
                self._account()
                del self._active[key]
