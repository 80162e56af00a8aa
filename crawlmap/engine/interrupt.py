"""Ctrl-C or SIGTERM during a local run: the execution stopped as StopExecution leaves it
on AWS, and the invocations in flight given a grace period to return."""

from __future__ import annotations

import contextlib
import datetime
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from crawlmap.engine.backend import history
from crawlmap.runfolder import iso_time

if TYPE_CHECKING:
    from crawlmap.engine.runner import RunRecord


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM, which the CLI turns into one) during run_execution: the execution
    was stopped (ABORTED, as StopExecution leaves it) and its run folder saved with the
    history so far, so `history`, `report` and `cost` read it. `still_running`: invocations
    that had not returned when the engine stopped waiting for them (INTERRUPT_GRACE_S)."""

    def __init__(self, record: RunRecord, still_running: int) -> None:
        super().__init__(f"run {record.run_id} interrupted")
        self.record = record
        self.still_running = still_running


INTERRUPT_GRACE_S = 10.0  # how long a stopped run waits for its invocations in flight
INTERRUPTED_CAUSE = "stopped by the user (Ctrl-C or SIGTERM) before the execution ended"


class InFlight:
    """Counts the run's Lambda invocations in flight (an interrupted run waits for them)."""

    def __init__(self, invoke: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self._invoke = invoke
        self._count = 0
        self._idle = threading.Condition()

    def __call__(self, parameters: dict[str, Any]) -> dict[str, Any]:
        with self._idle:
            self._count += 1
        try:
            return self._invoke(parameters)
        finally:
            with self._idle:
                self._count -= 1
                self._idle.notify_all()

    def drain(self, timeout: float) -> int:
        """Wait until none is in flight or `timeout` passed; the number still running.
        A second Ctrl-C ends the wait early."""
        deadline = time.monotonic() + timeout
        with contextlib.suppress(KeyboardInterrupt), self._idle:
            while self._count and time.monotonic() < deadline:
                self._idle.wait(min(0.1, max(0.0, deadline - time.monotonic())))
        return self._count


def stop_interrupted(
    sfn: Any, execution_arn: str, in_flight: InFlight
) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
    """The execution as StopExecution leaves it on AWS: ABORTED, its history up to now and an
    ExecutionAborted event. moto's own stop is asked to stop scheduling states (its history
    after that is not AWS's: it fails the states in flight with States.Runtime), and the
    invocations in flight get INTERRUPT_GRACE_S to return."""
    described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
    events = history(execution_arn)
    if described["status"] == "RUNNING":
        with contextlib.suppress(ClientError):
            sfn.stop_execution(executionArn=execution_arn)
        now = datetime.datetime.now(tz=datetime.UTC)
        last = events[-1]["id"] if events else 0
        events.append(
            {
                "id": last + 1,
                "previousEventId": last,
                "timestamp": iso_time(now),
                "type": "ExecutionAborted",
                "executionAbortedEventDetails": {
                    "error": "Interrupted",
                    "cause": INTERRUPTED_CAUSE,
                },
            }
        )
        described = {
            **described,
            "status": "ABORTED",
            "stopDate": now,
            "error": "Interrupted",
            "cause": INTERRUPTED_CAUSE,
        }
    return described, events, in_flight.drain(INTERRUPT_GRACE_S)
