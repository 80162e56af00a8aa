"""Tiny handlers for the engine's Lambda-limit tests (test_engine_limits.py)."""

import time
from typing import Any

from crawlmap.engine import moto_gaps


def hold_until_throttled(event: Any, context: Any) -> Any:
    """Keeps its concurrency slot until some invocation of this function was throttled, so
    that a test sees throttling whatever the threads' timing (gives up after 30 s)."""
    run = moto_gaps._active
    assert run is not None
    assert run.concurrency is not None
    deadline = time.monotonic() + 30
    while run.concurrency.throttles_of(context.invoked_function_arn) == 0:
        if time.monotonic() > deadline:
            raise TimeoutError("no invocation was throttled")
        time.sleep(0.002)
    return event
