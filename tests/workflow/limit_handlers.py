"""Tiny handlers for the engine's Lambda-limit tests (test_engine_limits.py)."""

import threading
import time
from typing import Any

from crawlmap.engine import moto_patches


def hold_until_throttled(event: Any, context: Any) -> Any:
    """Keeps its concurrency slot until some invocation of this function was throttled, so
    that a test sees throttling whatever the threads' timing (gives up after 30 s)."""
    run = moto_patches.current()
    assert run is not None
    assert run.concurrency is not None
    deadline = time.monotonic() + 30
    while run.concurrency.throttles_of(context.invoked_function_arn) == 0:
        if time.monotonic() > deadline:
            raise TimeoutError("no invocation was throttled")
        time.sleep(0.002)
    return event


class ChildFailedError(Exception):
    """A tiny child's failure, raised on request."""


def _wait_for(condition: Any, what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        time.sleep(0.002)


_entered: dict[int, int] = {}  # Map Run (its stats' id) -> children inside the handler
_entered_lock = threading.Lock()


def fail_with_siblings_running(event: Any, context: Any) -> Any:
    """For a distributed Map: an item with "fail" raises once `event["running"]` children are
    running; the others wait until the Map Run has crossed its failure threshold, then return.
    So the threshold is crossed while the others are mid-way, whatever the threads' timing."""
    run = moto_patches.current()
    assert run is not None
    (stats,) = run.map_runs.values()
    with _entered_lock:  # in this handler, not just registered: their First state is running
        _entered[id(stats)] = _entered.get(id(stats), 0) + 1
    if event.get("fail"):
        _wait_for(lambda: _entered.get(id(stats), 0) >= event["running"], "the siblings to start")
        raise ChildFailedError(f"item {event['n']} failed")
    _wait_for(lambda: stats.exceeded, "the Map Run to fail")
    return event


def slow_then_fail(event: Any, context: Any) -> Any:
    """Sleeps event["seconds"], then raises (on Lambda, a timeout would have stopped it first)."""
    time.sleep(event["seconds"])
    raise ChildFailedError("raised after the timeout")
