"""crawlmap.engine.cpu: an invocation's CPU time includes the helper threads it hands work to
(CrawlBatch's loop thread), shared between the invocations running at the time; waiting costs
no CPU. Real threads, real per-thread clocks."""

from __future__ import annotations

import threading
import time

from crawlmap.engine.cpu import CpuMeter


def spin(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_waiting_costs_no_cpu_and_work_does() -> None:
    meter = CpuMeter()
    with meter.measure() as idle:
        time.sleep(0.05)
    with meter.measure() as busy:
        spin(0.05)
    assert idle.ms < 10
    assert busy.raw_ms >= 45
    assert 0 < busy.ms <= busy.raw_ms * 1.01  # normalized: never more than it used


def test_helper_thread_cpu_is_shared_between_the_invocations_running() -> None:
    meter = CpuMeter()
    started, release = threading.Event(), threading.Event()
    readings = []

    def invocation() -> None:
        with meter.measure() as reading:
            started.wait()
            release.wait()
        readings.append(reading)

    callers = [threading.Thread(target=invocation) for _ in range(2)]
    for caller in callers:
        caller.start()
    time.sleep(0.05)  # both inside measure()
    spun, loop_may_end = threading.Event(), threading.Event()

    def warm_loop() -> None:  # spins 100 ms of CPU, then idles on, as CrawlBatch's loop does
        spin(0.1)
        spun.set()
        loop_may_end.wait()

    loop = threading.Thread(target=warm_loop, name="crawl-batch-loop")
    started.set()
    loop.start()
    spun.wait()
    release.set()
    for caller in callers:
        caller.join()
    loop_may_end.set()
    loop.join()
    assert len(readings) == 2
    for reading in readings:
        assert 35 <= reading.raw_ms <= 70  # half of the loop's 100 ms each
    outside = CpuMeter()
    other = threading.Thread(target=spin, args=(0.05,), name="not-a-helper")
    with outside.measure() as reading:
        other.start()
        other.join()
    assert reading.raw_ms < 20  # a thread that is not a helper is not charged
