"""The model of an execution history: events, state visits, task invocations, Map runs.

Frozen dataclasses, built by crawlmap.history.parse; nothing here reads files or AWS.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

VisitStatus = Literal["succeeded", "retried", "caught", "failed", "running"]
IterationStatus = Literal["succeeded", "failed", "aborted", "running"]
TaskOutcome = Literal["succeeded", "failed", "timed_out", "running"]

# Ranking used to colour a state in the graph by its worst visit.
STATUS_RANK: dict[str, int] = {
    "not_run": 0,
    "succeeded": 1,
    "running": 2,
    "retried": 3,
    "caught": 4,
    "failed": 5,
}


class HistoryError(ValueError):
    """The document is not an execution history. The message says what is wrong."""


@dataclass(frozen=True)
class HistoryEvent:
    id: int
    previous_id: int
    type: str
    timestamp: datetime
    details: Mapping[str, Any]  # the event's *EventDetails object ({} when absent)
    iteration: tuple[str, int] | None  # (Map state name, index) of the innermost iteration
    state: str | None  # the state visit this event belongs to


@dataclass(frozen=True)
class TaskInvocation:
    state: str
    function: str | None  # Lambda function name (from FunctionName / the resource ARN)
    resource: str  # e.g. "lambda:invoke"
    scheduled_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    outcome: TaskOutcome
    error: str | None
    cause: str | None
    attempt: int  # 1 for the first try, 2 for the first retry, ...
    iteration: tuple[str, int] | None
    # Where it ran, uniquely: (Map's entered event id, index) per nesting level; `iteration`
    # alone repeats across lanes (every lane's CrawlLane Map has an iteration 0).
    scope: tuple[tuple[int, int], ...] = ()

    @property
    def duration_ms(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - (self.started_at or self.scheduled_at)).total_seconds() * 1000


@dataclass(frozen=True)
class StateVisit:
    name: str
    type: str  # Task, Map, Pass, Choice, Succeed, Fail, Parallel, Wait
    entered_at: datetime
    exited_at: datetime | None
    status: VisitStatus
    iteration: tuple[str, int] | None
    attempts: int  # task attempts (0 for states that call nothing)
    error: str | None  # the last error seen in this visit (retried, caught or failed)
    cause: str | None
    input: Any = None
    output: Any = None

    @property
    def retries(self) -> int:
        return max(self.attempts - 1, 0)

    @property
    def duration_ms(self) -> float | None:
        if self.exited_at is None:
            return None
        return (self.exited_at - self.entered_at).total_seconds() * 1000


@dataclass(frozen=True)
class MapIteration:
    map_name: str
    index: int
    status: IterationStatus
    started_at: datetime
    ended_at: datetime | None
    batch_id: int | None
    pages: tuple[str, ...]  # the batch's page URLs (needs includeExecutionData)
    pages_ok: int | None
    pages_failed: int | None
    attempts: int  # task attempts inside the iteration
    retried: bool
    caught_error: str | None  # the error a Catch turned into a failure record
    caught_cause: str | None
    states: tuple[str, ...]  # the inner states visited, in order
    lane_id: int | None = None  # v0.2 lanes: the lane the batch ran in
    batch_index: int | None = None  # distributed lanes: the batch's index in its lane
    page_count: int | None = None  # pages in the batch when only a count travels (distributed)
    scope: tuple[tuple[int, int], ...] = ()  # as TaskInvocation.scope, this iteration's own

    @property
    def retries(self) -> int:
        return max(self.attempts - 1, 0) if self.attempts else 0

    @property
    def duration_ms(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds() * 1000

    @property
    def outcome(self) -> str:
        """One word for tables: succeeded, retried, caught, failed, aborted, running."""
        if self.status != "succeeded":
            return self.status
        if self.caught_error is not None:
            return "caught"
        return "retried" if self.retried else "succeeded"


@dataclass(frozen=True)
class MapRun:
    name: str
    mode: Literal["inline", "distributed"]
    status: str  # succeeded | failed | aborted | running
    started_at: datetime
    ended_at: datetime | None
    length: int | None  # items, from MapStateStarted
    map_run_arn: str | None
    iterations: tuple[MapIteration, ...]
    iteration: tuple[str, int] | None  # when the Map itself sits inside an iteration


@dataclass(frozen=True)
class ExecutionHistory:
    events: tuple[HistoryEvent, ...]
    status: str  # SUCCEEDED | FAILED | ABORTED | TIMED_OUT | RUNNING
    started_at: datetime
    stopped_at: datetime | None
    input: Any
    output: Any
    error: str | None
    cause: str | None
    states: tuple[StateVisit, ...]
    maps: tuple[MapRun, ...]
    tasks: tuple[TaskInvocation, ...]
    name: str | None = None
    execution_arn: str | None = None
    state_machine_arn: str | None = None
    definition: Mapping[str, Any] | None = field(default=None, compare=False)

    @property
    def duration_ms(self) -> float | None:
        if self.stopped_at is None:
            return None
        return (self.stopped_at - self.started_at).total_seconds() * 1000

    @property
    def iterations(self) -> tuple[MapIteration, ...]:
        return tuple(it for run in self.maps for it in run.iterations)

    @property
    def mode(self) -> Literal["inline", "distributed"]:
        """'distributed' when any Map ran as a Distributed Map, else 'inline'."""
        return "distributed" if any(m.mode == "distributed" for m in self.maps) else "inline"

    def maps_within(self, run: MapRun) -> tuple[MapRun, ...]:
        """The Map runs nested (at any depth) inside `run`'s iterations."""
        by_name = {m.name: m for m in self.maps}
        found = []
        for candidate in self.maps:
            parent = candidate.iteration
            seen = 0
            while parent is not None and seen < len(self.maps):
                if parent[0] == run.name:
                    found.append(candidate)
                    break
                outer = by_name.get(parent[0])
                parent = outer.iteration if outer is not None else None
                seen += 1
        return tuple(found)

    def batch_maps(self, run: MapRun) -> tuple[MapRun, ...]:
        """The innermost Maps of `run` (itself when nothing is nested): where the batches
        are. v0.2's CrawlPages iterates over lanes; its CrawlLane Maps iterate over batches."""
        nested = self.maps_within(run)
        if not nested:
            return (run,)
        parents = {m.iteration[0] for m in nested if m.iteration is not None}
        return tuple(m for m in nested if m.name not in parents)

    @property
    def batch_iterations(self) -> tuple[MapIteration, ...]:
        """Every batch's iteration, whatever the nesting (top-level Maps' innermost Maps)."""
        return tuple(
            it
            for run in self.maps
            if run.iteration is None
            for inner in self.batch_maps(run)
            for it in inner.iterations
        )

    def state_status(self) -> dict[str, str]:
        """Each visited state's worst status (by STATUS_RANK), for colouring the graph."""
        worst: dict[str, str] = {}
        for visit in self.states:
            current = worst.get(visit.name, "not_run")
            if STATUS_RANK[visit.status] > STATUS_RANK[current]:
                worst[visit.name] = visit.status
        return worst
