"""The parser's working records (mutable while events are read) and their frozen models."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from crawlmap.history.batches import (
    batch_counts,
    batch_id_of,
    batch_page_count,
    batch_pages,
    batch_place,
)
from crawlmap.history.model import (
    IterationStatus,
    MapIteration,
    MapRun,
    StateVisit,
    TaskInvocation,
    TaskOutcome,
    VisitStatus,
)


@dataclass
class VisitBuilder:
    name: str
    type: str
    entered_at: datetime
    ctx: tuple[tuple[int, int], ...]
    iteration: tuple[str, int] | None
    input: Any
    exited_at: datetime | None = None
    output: Any = None
    attempts: int = 0
    failures: int = 0
    error: str | None = None
    cause: str | None = None
    failed_hard: bool = False  # a failure that nothing retried or caught
    last_task: TaskBuilder | None = None
    closed: bool = False

    def status(self, execution_done: bool) -> VisitStatus:
        if self.type == "Fail" or self.failed_hard:
            return "failed"
        if self.exited_at is None:
            if self.failures and execution_done:
                return "failed"
            return "failed" if execution_done and self.type != "Map" else "running"
        if self.failures and self.last_task is not None and self.last_task.outcome != "succeeded":
            return "caught"
        if self.failures:
            return "retried"
        return "succeeded"


@dataclass
class TaskBuilder:
    state: str
    function: str | None
    resource: str
    scheduled_at: datetime
    attempt: int
    iteration: tuple[str, int] | None
    scope: tuple[tuple[int, int], ...] = ()
    started_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: TaskOutcome = "running"
    error: str | None = None
    cause: str | None = None


@dataclass
class IterationBuilder:
    map_name: str
    index: int
    started_at: datetime
    ended_at: datetime | None = None
    status: IterationStatus = "running"
    visits: list[VisitBuilder] = field(default_factory=list)


@dataclass
class MapBuilder:
    visit: VisitBuilder
    entered_id: int
    started_at: datetime
    mode: Literal["inline", "distributed"] = "inline"
    ended_at: datetime | None = None
    status: str = "running"
    length: int | None = None
    map_run_arn: str | None = None
    iterations: dict[int, IterationBuilder] = field(default_factory=dict)
    exited: bool = False


def freeze_visit(v: VisitBuilder, done: bool) -> StateVisit:
    return StateVisit(
        name=v.name,
        type=v.type,
        entered_at=v.entered_at,
        exited_at=v.exited_at,
        status=v.status(done),
        iteration=v.iteration,
        attempts=v.attempts,
        error=v.error,
        cause=v.cause,
        input=v.input,
        output=v.output,
    )


def freeze_task(t: TaskBuilder) -> TaskInvocation:
    return TaskInvocation(
        state=t.state,
        function=t.function,
        resource=t.resource,
        scheduled_at=t.scheduled_at,
        started_at=t.started_at,
        ended_at=t.ended_at,
        outcome=t.outcome,
        error=t.error,
        cause=t.cause,
        attempt=t.attempt,
        iteration=t.iteration,
        scope=t.scope,
    )


def freeze_iteration(
    it: IterationBuilder, done: bool, scope: tuple[tuple[int, int], ...] = ()
) -> MapIteration:
    batch_id: int | None = None
    pages: tuple[str, ...] = ()
    ok: int | None = None
    failed: int | None = None
    caught_error = caught_cause = None
    attempts = 0
    retried = False
    lane_id = batch_index = page_count = None
    for visit in it.visits:
        if not pages:
            batch_id, pages = batch_pages(visit.input)
        if lane_id is None:
            lane_id, batch_index = batch_place(visit.input)
        if batch_id is None:
            batch_id = batch_id_of(visit.output)
        page_count = batch_page_count(visit.output) or page_count
        attempts += visit.attempts
        frozen = visit.status(done)
        if frozen == "caught":
            caught_error, caught_cause = visit.error, visit.cause
        if visit.attempts > 1:
            retried = True
        counted = batch_counts(visit.output)
        if counted != (None, None):
            ok, failed = counted
    status: IterationStatus = it.status
    if status == "running" and done:
        status = "aborted"
    return MapIteration(
        map_name=it.map_name,
        index=it.index,
        status=status,
        started_at=it.started_at,
        ended_at=it.ended_at,
        batch_id=batch_id,
        pages=pages,
        pages_ok=ok,
        pages_failed=failed,
        attempts=attempts,
        retried=retried,
        caught_error=caught_error,
        caught_cause=caught_cause,
        states=tuple(v.name for v in it.visits),
        lane_id=lane_id,
        batch_index=batch_index,
        page_count=page_count if page_count is not None else (len(pages) or None),
        scope=scope,
    )


def freeze_map(m: MapBuilder, done: bool) -> MapRun:
    status = m.status
    if status == "running" and done:
        status = "failed" if m.visit.failed_hard else "aborted"
    return MapRun(
        name=m.visit.name,
        mode=m.mode,
        status=status,
        started_at=m.started_at,
        ended_at=m.ended_at,
        length=m.length,
        map_run_arn=m.map_run_arn,
        iterations=tuple(
            freeze_iteration(m.iterations[i], done, (*m.visit.ctx, (m.entered_id, i)))
            for i in sorted(m.iterations)
        ),
        iteration=m.visit.iteration,
    )
