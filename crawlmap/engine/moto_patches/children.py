"""A distributed Map's child execution as the engine records it (moto keeps no record of one).

Checked against moto 5.2.5. moto publishes every child's events into one list of the Map Run
and gives the children no history of their own (gaps/child_histories.py). The engine gives
each event to its child, which appends it to a spool file of its own while it runs (so memory
does not grow with the run's size: a lane child may run a thousand batches) and renders its
history from it when it ends, as GetExecutionHistory gives a STANDARD child's.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from crawlmap.runfolder.jsonio import iso_time, plain

_COMPACT = (",", ":")


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(tz=datetime.UTC)


@dataclass
class ChildExecution:
    """One child execution of a distributed Map, as the ResultWriter reports it."""

    index: int
    name: str
    start: datetime.datetime
    input: Any = None
    stop: datetime.datetime | None = None
    output: Any = None
    status: str = "RUNNING"
    error: str | None = None
    cause: str | None = None
    spool: Path | None = None  # its events as JSON lines while it runs (None: in memory)
    state_transitions: int = 0  # its states entered: billed transitions of a STANDARD child
    saved: bool = False  # its history is in the run folder
    _events: list[Mapping[str, Any]] = field(default_factory=list, repr=False)
    _spool_file: IO[str] | None = field(default=None, repr=False)

    def record(self, event: Mapping[str, Any]) -> None:
        """One event its states published (moto calls this under its event manager's lock)."""
        if str(plain(event.get("type"))).endswith("StateEntered"):
            self.state_transitions += 1
        if self.spool is None:
            self._events.append(event)
            return
        if self._spool_file is None:
            self._spool_file = self.spool.open("a", encoding="utf-8", errors="backslashreplace")
        self._spool_file.write(json.dumps(plain(event), separators=_COMPACT) + "\n")

    def recorded(self) -> Iterator[Mapping[str, Any]]:
        """The events recorded so far, in order."""
        if self.spool is None:
            yield from list(self._events)
            return
        if self._spool_file is not None:
            self._spool_file.flush()
        if not self.spool.exists():
            return
        with self.spool.open(encoding="utf-8") as lines:
            for line in lines:
                yield json.loads(line)

    def forget_events(self) -> None:
        """Saved: drop the events (and the spool file)."""
        self._events = []
        if self._spool_file is not None:
            self._spool_file.close()
            self._spool_file = None
        if self.spool is not None:
            self.spool.unlink(missing_ok=True)

    def history(self) -> Iterator[dict[str, Any]]:
        """Its own execution history, as GetExecutionHistory gives a STANDARD child's: events
        numbered from 1 between ExecutionStarted and its end event."""
        yield {
            "timestamp": iso_time(self.start),
            "type": "ExecutionStarted",
            "id": 1,
            "previousEventId": 0,
            "executionStartedEventDetails": {
                "input": json.dumps(self.input, separators=_COMPACT),
                "inputDetails": {"truncated": False},
            },
        }
        renumber: dict[int, int] = {}  # moto's id of each event so far -> its own
        last = 1
        for event in self.recorded():
            own = dict(event)
            last += 1
            # The first event points at the parent's Map events, numbered by the parent's event
            # manager (its id may even equal this event's own, from the Map Run's): here, at
            # ExecutionStarted. Looked up before this event is numbered, so never at itself.
            previous = int(event.get("previousEventId", 0))
            own["previousEventId"] = renumber.get(previous, 1) if renumber else 1
            renumber[int(event["id"])] = own["id"] = last
            yield own
        yield {
            "timestamp": iso_time(self.stop or self.start),
            "id": last + 1,
            "previousEventId": last,
            **self._end_event(),
        }

    def _end_event(self) -> dict[str, Any]:
        if self.status == "SUCCEEDED":
            output = json.dumps(self.output, separators=_COMPACT)
            return {
                "type": "ExecutionSucceeded",
                "executionSucceededEventDetails": {
                    "output": output,
                    "outputDetails": {"truncated": False},
                },
            }
        if self.status == "ABORTED":
            return {"type": "ExecutionAborted", "executionAbortedEventDetails": {}}
        end_type, details_key = (
            ("ExecutionTimedOut", "executionTimedOutEventDetails")
            if self.status == "TIMED_OUT"
            else ("ExecutionFailed", "executionFailedEventDetails")
        )
        details = {"error": self.error or "States.Runtime", "cause": self.cause or ""}
        return {"type": end_type, details_key: details}

    def duration_ms(self) -> float:
        return 0.0 if self.stop is None else (self.stop - self.start).total_seconds() * 1000

    def to_result_entry(self, execution_arn: str) -> dict[str, Any]:
        """Its entry in the ResultWriter's SUCCEEDED_n.json / FAILED_n.json."""
        entry: dict[str, Any] = {
            "ExecutionArn": execution_arn,
            "Input": json.dumps(self.input, separators=_COMPACT),
            "InputDetails": {"Included": True},
            "Name": self.name,
            "StartDate": iso_time(self.start),
            "StopDate": iso_time(self.stop or self.start),
            "Status": self.status,
        }
        if self.status == "SUCCEEDED":
            entry["Output"] = json.dumps(self.output, separators=_COMPACT)
            entry["OutputDetails"] = {"Included": True}
        else:
            entry["Error"] = self.error or "States.Runtime"
            entry["Cause"] = self.cause or ""
        return entry
