"""Read a Step Functions execution history (GetExecutionHistory events) into a model.

The same code reads a history the local engine saved (moto's interpreter) and one fetched
from AWS: both use the GetExecutionHistory event format. Events do not say which Map
iteration or which state they belong to; they only point at the event that caused them
(`previousEventId`). This module follows those pointers:

- an event belongs to the state visit and Map iteration of its previous event;
- a `*StateEntered` event opens a new visit in its iteration, `*StateExited` closes it;
- `MapIteration*` events name their Map and index, because their previous event may sit
  in a sibling iteration (moto links MapIterationStarted #5 to iteration #1's last event);
- `MapState*` / `MapRun*` events belong to the Map state's own visit.

Everything here is pure: no AWS calls, no files, except `load_history`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from crawlmap.runfolder import RunFiles, RunFolderError, read_run

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

_TASK_FAILURES = {
    "TaskFailed": "failed",
    "TaskTimedOut": "timed_out",
    "TaskStartFailed": "failed",
    "TaskSubmitFailed": "failed",
    "LambdaFunctionFailed": "failed",
    "LambdaFunctionTimedOut": "timed_out",
    "LambdaFunctionStartFailed": "failed",
    "LambdaFunctionScheduleFailed": "failed",
}
_TASK_SCHEDULED = {"TaskScheduled", "LambdaFunctionScheduled"}
_TASK_STARTED = {"TaskStarted", "LambdaFunctionStarted"}
_TASK_SUCCEEDED = {"TaskSucceeded", "LambdaFunctionSucceeded"}
_MAP_TERMINAL = {"MapStateSucceeded", "MapStateFailed", "MapStateAborted", "MapStateExited"}
_EXECUTION_END = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionAborted": "ABORTED",
    "ExecutionTimedOut": "TIMED_OUT",
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

    def state_status(self) -> dict[str, str]:
        """Each visited state's worst status (by STATUS_RANK), for colouring the graph."""
        worst: dict[str, str] = {}
        for visit in self.states:
            current = worst.get(visit.name, "not_run")
            if STATUS_RANK[visit.status] > STATUS_RANK[current]:
                worst[visit.name] = visit.status
        return worst


# ---------------------------------------------------------------- parsing


def parse_timestamp(value: Any, *, where: str) -> datetime:
    """ISO 8601 text ('Z', an offset, or boto3's str(datetime)), epoch seconds, or a datetime."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        parsed = datetime.fromtimestamp(value, tz=UTC)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise HistoryError(f"{where}.timestamp: not a date: {value!r}") from None
    else:
        raise HistoryError(f"{where}.timestamp: missing or not a date")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _details_of(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    for key, value in raw.items():
        if key.endswith("EventDetails") and isinstance(value, Mapping):
            return value
    return {}


def _json_or_text(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _function_name(details: Mapping[str, Any]) -> str | None:
    arn: Any = None
    params = _json_or_text(details.get("parameters"))
    if isinstance(params, Mapping):
        arn = params.get("FunctionName")
    if arn is None and str(details.get("resource", "")).startswith("arn:aws:lambda:"):
        arn = details["resource"]
    if not isinstance(arn, str):
        return None
    # arn:aws:lambda:region:acct:function:NAME[:qualifier] or a bare name
    parts = arn.split(":")
    if len(parts) >= 7 and parts[5] == "function":
        return parts[6]
    return arn


def _state_type(event_type: str) -> str:
    for suffix in ("StateEntered", "StateExited"):
        if event_type.endswith(suffix):
            return event_type[: -len(suffix)]
    return ""


@dataclass
class _Visit:
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
    last_task: _Task | None = None
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
class _Task:
    state: str
    function: str | None
    resource: str
    scheduled_at: datetime
    attempt: int
    iteration: tuple[str, int] | None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: TaskOutcome = "running"
    error: str | None = None
    cause: str | None = None


@dataclass
class _Iteration:
    map_name: str
    index: int
    started_at: datetime
    ended_at: datetime | None = None
    status: IterationStatus = "running"
    visits: list[_Visit] = field(default_factory=list)


@dataclass
class _Map:
    visit: _Visit
    entered_id: int
    started_at: datetime
    mode: Literal["inline", "distributed"] = "inline"
    ended_at: datetime | None = None
    status: str = "running"
    length: int | None = None
    map_run_arn: str | None = None
    iterations: dict[int, _Iteration] = field(default_factory=dict)
    exited: bool = False


def _coerce_events(doc: Any) -> list[Mapping[str, Any]]:
    events = doc.get("events") if isinstance(doc, Mapping) else doc
    if isinstance(doc, Mapping) and events is None:
        raise HistoryError("events: missing (expected GetExecutionHistory's {'events': [...]})")
    if not isinstance(events, Sequence) or isinstance(events, str | bytes):
        raise HistoryError("events: expected a list of history events")
    if not events:
        raise HistoryError("events: the history is empty")
    for i, event in enumerate(events):
        if not isinstance(event, Mapping):
            raise HistoryError(f"events[{i}]: expected an object")
        if not isinstance(event.get("type"), str):
            raise HistoryError(f"events[{i}].type: missing")
        if not isinstance(event.get("id"), int) or isinstance(event.get("id"), bool):
            raise HistoryError(f"events[{i}].id: missing or not an integer")
    return sorted(events, key=lambda e: int(e["id"]))


def parse_history(
    doc: Any,
    *,
    meta: Mapping[str, Any] | None = None,
    definition: Mapping[str, Any] | None = None,
) -> ExecutionHistory:
    """Build the model from GetExecutionHistory's response ({'events': [...]}) or its event list."""
    raw_events = _coerce_events(doc)
    first = raw_events[0]
    if first["type"] != "ExecutionStarted":
        raise HistoryError(f"events[0].type: expected ExecutionStarted, got {first['type']!r}")

    ctx_of: dict[int, tuple[tuple[int, int], ...]] = {}
    visit_of: dict[int, _Visit | None] = {}
    open_map: dict[tuple[tuple[int, int], ...], _Map] = {}  # the Map state open in a context
    maps_by_id: dict[int, _Map] = {}
    maps: list[_Map] = []
    visits: list[_Visit] = []
    tasks: list[_Task] = []
    events: list[HistoryEvent] = []

    status = "RUNNING"
    started_at = parse_timestamp(first.get("timestamp"), where="events[0]")
    stopped_at: datetime | None = None
    exec_input: Any = None
    exec_output: Any = None
    exec_error: str | None = None
    exec_cause: str | None = None

    def iteration_key(ctx: tuple[tuple[int, int], ...]) -> tuple[str, int] | None:
        if not ctx:
            return None
        map_id, index = ctx[-1]
        return (maps_by_id[map_id].visit.name, index)

    def resolve_map(
        ctx: tuple[tuple[int, int], ...], name: str | None
    ) -> tuple[tuple[tuple[int, int], ...], _Map] | None:
        """The Map (and its context) an iteration/Map event refers to, walking outwards from ctx."""
        for depth in range(len(ctx), -1, -1):
            prefix = ctx[:depth]
            candidate = open_map.get(prefix)
            if (
                candidate is not None
                and not candidate.exited
                and (name is None or name == candidate.visit.name)
            ):
                return prefix, candidate
        return None

    for position, raw in enumerate(raw_events):
        where = f"events[{position}]"
        event_id = int(raw["id"])
        prev = raw.get("previousEventId") or 0
        etype: str = raw["type"]
        ts = parse_timestamp(raw.get("timestamp"), where=where)
        details = _details_of(raw)
        ctx = ctx_of.get(prev, ())
        visit = visit_of.get(prev)
        if visit is not None and visit.closed:
            visit = None

        if etype == "ExecutionStarted":
            exec_input = _json_or_text(details.get("input"))
        elif etype in _EXECUTION_END:
            status = _EXECUTION_END[etype]
            stopped_at = ts
            exec_output = _json_or_text(details.get("output"))
            exec_error = details.get("error")
            exec_cause = details.get("cause")
            if visit is not None and etype != "ExecutionSucceeded" and visit.type != "Fail":
                visit.failed_hard = True
        elif etype.endswith("StateEntered"):
            if visit is not None and visit.last_task is not None and visit.failures:
                # A Catch moved on without a *StateExited event for the failed state: the
                # next state's entry ends it.
                visit.exited_at = ts
                visit.closed = True
            visit = _Visit(
                name=str(details.get("name", "?")),
                type=_state_type(etype),
                entered_at=ts,
                ctx=ctx,
                iteration=iteration_key(ctx),
                input=_json_or_text(details.get("input")),
            )
            visits.append(visit)
            if ctx:
                map_id, index = ctx[-1]
                iteration = maps_by_id[map_id].iterations.get(index)
                if iteration is not None:
                    iteration.visits.append(visit)
            if visit.type == "Map":
                new_map = _Map(visit=visit, entered_id=event_id, started_at=ts)
                maps.append(new_map)
                maps_by_id[event_id] = new_map
                open_map[ctx] = new_map
        elif etype.startswith("MapIteration"):
            name = details.get("name")
            found = resolve_map(ctx, name if isinstance(name, str) else None)
            raw_index = details.get("index")
            if found is None or not isinstance(raw_index, int):
                raise HistoryError(f"{where}: {etype} outside a Map state")
            map_ctx, owner = found
            index = raw_index
            ctx = (*map_ctx, (owner.entered_id, index))
            visit = None
            iteration = owner.iterations.get(index)
            if etype == "MapIterationStarted" or iteration is None:
                iteration = _Iteration(map_name=owner.visit.name, index=index, started_at=ts)
                owner.iterations[index] = iteration
            if etype != "MapIterationStarted":
                iteration.ended_at = ts
                iteration.status = {
                    "MapIterationSucceeded": "succeeded",
                    "MapIterationFailed": "failed",
                    "MapIterationAborted": "aborted",
                }.get(etype, "running")  # type: ignore[assignment]
        elif etype in _MAP_TERMINAL or etype.startswith(("MapState", "MapRun")):
            found = resolve_map(ctx, details.get("name") if etype == "MapStateExited" else None)
            if found is not None:
                ctx, owner = found
                visit = owner.visit
                if etype == "MapStateStarted":
                    length = details.get("length")
                    owner.length = length if isinstance(length, int) else None
                elif etype == "MapRunStarted":
                    owner.mode = "distributed"
                    owner.map_run_arn = details.get("mapRunArn")
                elif etype in ("MapStateSucceeded", "MapRunSucceeded"):
                    owner.status = "succeeded"
                    owner.ended_at = ts
                elif etype in ("MapStateFailed", "MapRunFailed"):
                    owner.status = "failed"
                    owner.ended_at = ts
                    visit.failures += 1
                    visit.error = details.get("error") or visit.error
                    visit.cause = details.get("cause") or visit.cause
                elif etype in ("MapStateAborted", "MapRunAborted"):
                    owner.status = "aborted"
                    owner.ended_at = ts
                if etype == "MapStateExited":
                    owner.exited = True
                    owner.ended_at = owner.ended_at or ts
        elif visit is not None and etype in _TASK_SCHEDULED:
            task = _Task(
                state=visit.name,
                function=_function_name(details),
                resource=_resource(details),
                scheduled_at=ts,
                attempt=visit.attempts + 1,
                iteration=visit.iteration,
            )
            visit.attempts += 1
            visit.last_task = task
            tasks.append(task)
        elif visit is not None and visit.last_task is not None and etype in _TASK_STARTED:
            visit.last_task.started_at = ts
        elif visit is not None and visit.last_task is not None and etype in _TASK_SUCCEEDED:
            visit.last_task.ended_at = ts
            visit.last_task.outcome = "succeeded"
        elif visit is not None and etype in _TASK_FAILURES:
            visit.failures += 1
            visit.error = details.get("error") or (
                "States.Timeout" if "TimedOut" in etype else "States.TaskFailed"
            )
            visit.cause = details.get("cause")
            if visit.last_task is not None:
                visit.last_task.ended_at = ts
                visit.last_task.outcome = _TASK_FAILURES[etype]  # type: ignore[assignment]
                visit.last_task.error = visit.error
                visit.last_task.cause = visit.cause

        if etype.endswith("StateExited") and visit is not None:
            visit.exited_at = ts
            visit.output = _json_or_text(details.get("output"))
            visit.closed = True

        ctx_of[event_id] = ctx
        visit_of[event_id] = visit
        events.append(
            HistoryEvent(
                id=event_id,
                previous_id=int(prev),
                type=etype,
                timestamp=ts,
                details=details,
                iteration=iteration_key(ctx),
                state=visit.name if visit is not None else None,
            )
        )

    done = status != "RUNNING"
    if meta:
        status = str(meta.get("status") or status) if not done else status
    frozen_visits = tuple(_freeze_visit(v, done) for v in visits)
    frozen_maps = tuple(_freeze_map(m, done) for m in maps)
    name, arn, machine = _identity(meta)
    return ExecutionHistory(
        events=tuple(events),
        status=status,
        started_at=started_at,
        stopped_at=stopped_at,
        input=exec_input,
        output=exec_output,
        error=exec_error,
        cause=exec_cause,
        states=frozen_visits,
        maps=frozen_maps,
        tasks=tuple(_freeze_task(t) for t in tasks),
        name=name,
        execution_arn=arn,
        state_machine_arn=machine,
        definition=definition,
    )


def _resource(details: Mapping[str, Any]) -> str:
    rtype = details.get("resourceType")
    resource = details.get("resource")
    if rtype and resource:
        return f"{rtype}:{resource}"
    return str(resource or rtype or "")


def _identity(meta: Mapping[str, Any] | None) -> tuple[str | None, str | None, str | None]:
    meta = meta or {}
    arn = meta.get("execution_arn")
    name = meta.get("run_id") or (arn.rsplit(":", 1)[-1] if isinstance(arn, str) else None)
    return name, arn, meta.get("state_machine_arn")


def _freeze_visit(v: _Visit, done: bool) -> StateVisit:
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


def _freeze_task(t: _Task) -> TaskInvocation:
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
    )


def _batch_pages(value: Any) -> tuple[int | None, tuple[str, ...]]:
    """batch_id and page URLs from a CrawlBatch input ({'batch_id', 'pages': [{'url'}...]})."""
    if not isinstance(value, Mapping):
        return None, ()
    batch_id = value.get("batch_id")
    pages = value.get("pages")
    urls: list[str] = []
    if isinstance(pages, list):
        for page in pages:
            if isinstance(page, Mapping) and isinstance(page.get("url"), str):
                urls.append(page["url"])
            elif isinstance(page, str):
                urls.append(page)
    return (batch_id if isinstance(batch_id, int) else None), tuple(urls)


def _batch_counts(value: Any) -> tuple[int | None, int | None]:
    """(ok, failed) page counts from a BatchResult or BatchFailure (docs/CONTRACT.md)."""
    if not isinstance(value, Mapping):
        return None, None
    failure = value.get("failure")
    if isinstance(failure, Mapping) and isinstance(failure.get("pages"), list):
        return 0, len(failure["pages"])
    results = value.get("results")
    if isinstance(results, list):
        ok = sum(1 for r in results if isinstance(r, Mapping) and r.get("ok") is True)
        skipped = sum(
            1 for r in results if isinstance(r, Mapping) and r.get("outcome") == "skipped"
        )
        return ok, len(results) - ok - skipped
    return None, None


def _freeze_iteration(it: _Iteration, done: bool) -> MapIteration:
    batch_id: int | None = None
    pages: tuple[str, ...] = ()
    ok: int | None = None
    failed: int | None = None
    caught_error = caught_cause = None
    attempts = 0
    retried = False
    for visit in it.visits:
        if not pages:
            batch_id, pages = _batch_pages(visit.input)
        attempts += visit.attempts
        frozen = visit.status(done)
        if frozen == "caught":
            caught_error, caught_cause = visit.error, visit.cause
        if visit.attempts > 1:
            retried = True
        counted = _batch_counts(visit.output)
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
    )


def _freeze_map(m: _Map, done: bool) -> MapRun:
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
        iterations=tuple(_freeze_iteration(m.iterations[i], done) for i in sorted(m.iterations)),
        iteration=m.visit.iteration,
    )


# ---------------------------------------------------------------- loading


@dataclass(frozen=True)
class RunFolder:
    """A run folder (or a lone history.json) with its history parsed. See crawlmap.runfolder."""

    path: Path
    history: ExecutionHistory
    meta: Mapping[str, Any]  # RunMeta (crawlmap.runfolder.schema), {} when absent
    results: tuple[Mapping[str, Any], ...]  # PageResult per line of results.jsonl
    files: RunFiles | None = field(default=None, compare=False, repr=False)


def load_run(path: Path) -> RunFolder:
    """Load a run folder (history.json + optional meta.json, results.jsonl, definition.json)
    or a lone history.json file."""
    try:
        files = read_run(path)
    except RunFolderError as exc:
        raise HistoryError(str(exc)) from None
    history = parse_history(files.history, meta=files.meta, definition=files.definition)
    return RunFolder(
        path=files.path, history=history, meta=files.meta, results=files.results, files=files
    )


def load_history(path: Path) -> ExecutionHistory:
    return load_run(path).history


# ---------------------------------------------------------------- text rendering


def _clock(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%H:%M:%S.%f")[:-3]


def _secs(ms: float | None) -> str:
    return "-" if ms is None else f"{ms / 1000:.3f}s"


def _short(text: str | None, limit: int = 90) -> str:
    if not text:
        return ""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def cause_message(cause: str | None) -> str | None:
    """A Lambda error's errorMessage when the cause is its JSON, else the cause as given."""
    parsed = _json_or_text(cause)
    if isinstance(parsed, Mapping) and isinstance(parsed.get("errorMessage"), str):
        return parsed["errorMessage"]
    return cause


def format_history(history: ExecutionHistory, *, show_iterations: int | None = None) -> str:
    """The execution as the console's history shows it, as plain text.

    show_iterations limits how many Map iterations are listed per Map (None: all); failed,
    caught and retried iterations are always listed.
    """
    lines: list[str] = []
    title = history.name or history.execution_arn or "execution"
    lines.append(f"Execution {title}")
    if history.execution_arn:
        lines.append(f"  ARN       {history.execution_arn}")
    lines.append(
        f"  Status    {history.status}   started {history.started_at.isoformat()}"
        f"   duration {_secs(history.duration_ms)}   events {len(history.events)}"
    )
    if history.error:
        lines.append(f"  Error     {history.error}: {_short(history.cause, 200)}")
    lines.append("")
    lines.append(
        f"  {'Entered':<12} {'Exited':<12} {'Duration':>9}  {'State':<28} {'Type':<8} Result"
    )
    maps_by_visit = {(m.name, m.started_at): m for m in history.maps}
    for visit in history.states:
        if visit.iteration is not None:
            continue
        lines.append(_visit_line(visit, indent=""))
        if visit.type == "Map":
            run = maps_by_visit.get((visit.name, visit.entered_at)) or next(
                (m for m in history.maps if m.name == visit.name and m.iteration is None), None
            )
            if run is not None:
                lines.extend(_map_lines(run, history, show_iterations))
    if history.output is not None:
        lines.append("")
        lines.append("Output")
        lines.append("  " + _short(json.dumps(history.output, ensure_ascii=False), 400))
    return "\n".join(lines)


def _visit_line(visit: StateVisit, *, indent: str) -> str:
    result: str = visit.status
    if visit.retries:
        result += f" after {visit.retries} {'retry' if visit.retries == 1 else 'retries'}"
    if visit.error and visit.status in ("retried", "caught", "failed"):
        message = f"{visit.error}: {_short(cause_message(visit.cause), 70)}"
        result += f" (last error {message})" if visit.status == "retried" else f" {message}"
    name = f"{indent}{visit.name}"
    exited = _clock(visit.exited_at) if visit.exited_at else "-"
    return (
        f"  {_clock(visit.entered_at):<12} {exited:<12} {_secs(visit.duration_ms):>9}"
        f"  {name:<28} {visit.type:<8} {result}"
    )


def _map_lines(run: MapRun, history: ExecutionHistory, limit: int | None) -> list[str]:
    lines: list[str] = []
    if run.mode == "distributed":
        lines.append(
            f"      distributed Map Run {run.map_run_arn or ''} ({run.status}); child executions"
            " run outside this history"
        )
        return lines
    total = len(run.iterations)
    ok_pages = sum(it.pages_ok or 0 for it in run.iterations)
    failed_pages = sum(it.pages_failed or 0 for it in run.iterations)
    retried = sum(1 for it in run.iterations if it.retried)
    caught = sum(1 for it in run.iterations if it.caught_error)
    lines.append(
        f"      {total} iterations (items {run.length if run.length is not None else '?'}):"
        f" pages ok {ok_pages}, failed {failed_pages}; {retried} retried, {caught} caught"
    )
    failed_tasks: dict[tuple[str, int] | None, list[TaskInvocation]] = {}
    for task in history.tasks:
        if task.outcome != "succeeded":
            failed_tasks.setdefault(task.iteration, []).append(task)
    shown = 0
    for it in run.iterations:
        notable = it.outcome != "succeeded"
        if limit is not None and shown >= limit and not notable:
            continue
        shown += 1
        pages = ", ".join(it.pages[:2]) + (f" +{len(it.pages) - 2}" if len(it.pages) > 2 else "")
        counts = (
            f"ok {it.pages_ok} failed {it.pages_failed}" if it.pages_ok is not None else "no data"
        )
        line = (
            f"      #{it.index:<4} {_clock(it.started_at)} {_secs(it.duration_ms):>8}  "
            f"{it.outcome:<9} attempts {it.attempts}  {counts}"
        )
        if it.batch_id is not None:
            line += f"  batch {it.batch_id}"
        if pages:
            line += f"  [{_short(pages, 80)}]"
        lines.append(line)
        for task in failed_tasks.get((run.name, it.index), []):
            lines.append(
                f"             attempt {task.attempt} of {task.state} {task.outcome} at"
                f" {_clock(task.ended_at or task.scheduled_at)}: {task.error}:"
                f" {_short(cause_message(task.cause), 70)}"
            )
        if it.caught_error:
            lines.append(
                f"             caught {it.caught_error}:"
                f" {_short(cause_message(it.caught_cause), 80)}"
            )
    hidden = total - shown
    if hidden > 0:
        lines.append(f"      ... {hidden} more succeeded iterations (use --all)")
    return lines
