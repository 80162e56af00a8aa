"""Gap 8: Retry and Wait sleep for real.

Checked against moto 5.2.5. Locally the engine can scale those waits by the run's
`time_scale` (tests and benchmarks use a small factor); AWS always waits the full interval.
"""

from __future__ import annotations

import time
from typing import Any

from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function

from crawlmap.engine.moto_patches import active


def _scale() -> float:
    run = active.current()
    return run.time_scale if run is not None else 1.0


class _ScaledTime:
    """Stands in for the `time` module inside moto's retrier: sleeps scaled by the run's factor."""

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(max(0.0, seconds * _scale()))


def install() -> None:
    retrier_decl.time = _ScaledTime()

    def wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        if wait_seconds > 0:
            env.program_state_event.wait(wait_seconds * _scale())

    wait_function.WaitFunction._wait_interval = wait_interval
