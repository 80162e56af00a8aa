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

Each event family (execution, state entered/exited, Map iteration, Map state/run, task) has
one handler on `_Parser`; `_handler_for` picks it. What a CrawlBatch payload means is in
batches.py, not here. Everything here is pure: no AWS calls, no files.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from crawlmap.history.building import (
    IterationBuilder,
    MapBuilder,
    TaskBuilder,
    VisitBuilder,
    freeze_map,
    freeze_task,
    freeze_visit,
)
from crawlmap.history.model import (
    ExecutionHistory,
    HistoryError,
    HistoryEvent,
    IterationStatus,
    TaskOutcome,
)

_TASK_FAILURES: dict[str, TaskOutcome] = {
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
_ITERATION_END: dict[str, IterationStatus] = {
    "MapIterationSucceeded": "succeeded",
    "MapIterationFailed": "failed",
    "MapIterationAborted": "aborted",
}
_EXECUTION_END = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionAborted": "ABORTED",
    "ExecutionTimedOut": "TIMED_OUT",
}


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


def json_or_text(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _function_name(details: Mapping[str, Any]) -> str | None:
    arn: Any = None
    params = json_or_text(details.get("parameters"))
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


Context = tuple[tuple[int, int], ...]  # (Map's StateEntered event id, index) per nesting level


class _Parser:
    """The parse state while events are read in id order; one `on_*` method per family."""

    def __init__(self, started_at: datetime) -> None:
        self.ctx_of: dict[int, Context] = {}
        self.visit_of: dict[int, VisitBuilder | None] = {}
        self.open_map: dict[Context, MapBuilder] = {}  # the Map state open in a context
        self.maps_by_id: dict[int, MapBuilder] = {}
        self.maps: list[MapBuilder] = []
        self.visits: list[VisitBuilder] = []
        self.tasks: list[TaskBuilder] = []
        self.events: list[HistoryEvent] = []
        self.status = "RUNNING"
        self.started_at = started_at
        self.stopped_at: datetime | None = None
        self.input: Any = None
        self.output: Any = None
        self.error: str | None = None
        self.cause: str | None = None

    # -- context of one event, as the handlers see and update it
    ctx: Context
    visit: VisitBuilder | None

    def iteration_key(self, ctx: Context) -> tuple[str, int] | None:
        if not ctx:
            return None
        map_id, index = ctx[-1]
        return (self.maps_by_id[map_id].visit.name, index)

    def resolve_map(self, ctx: Context, name: str | None) -> tuple[Context, MapBuilder] | None:
        """The Map (and its context) an iteration/Map event refers to, walking outwards."""
        for depth in range(len(ctx), -1, -1):
            prefix = ctx[:depth]
            candidate = self.open_map.get(prefix)
            if (
                candidate is not None
                and not candidate.exited
                and (name is None or name == candidate.visit.name)
            ):
                return prefix, candidate
        return None

    def read(self, position: int, raw: Mapping[str, Any]) -> None:
        where = f"events[{position}]"
        event_id = int(raw["id"])
        prev = raw.get("previousEventId") or 0
        etype: str = raw["type"]
        ts = parse_timestamp(raw.get("timestamp"), where=where)
        details = _details_of(raw)
        self.ctx = self.ctx_of.get(prev, ())
        visit = self.visit_of.get(prev)
        self.visit = None if visit is not None and visit.closed else visit
        handler = _handler_for(etype)
        if handler is not None:
            handler(self, etype, ts, details, where, event_id)
        if etype.endswith("StateExited") and self.visit is not None:
            self.visit.exited_at = ts
            self.visit.output = json_or_text(details.get("output"))
            self.visit.closed = True
        self.ctx_of[event_id] = self.ctx
        self.visit_of[event_id] = self.visit
        self.events.append(
            HistoryEvent(
                id=event_id,
                previous_id=int(prev),
                type=etype,
                timestamp=ts,
                details=details,
                iteration=self.iteration_key(self.ctx),
                state=self.visit.name if self.visit is not None else None,
            )
        )

    # -- execution events
    def on_execution_started(
        self, etype: str, ts: datetime, details: Mapping[str, Any], where: str, event_id: int
    ) -> None:
        self.input = json_or_text(details.get("input"))

    def on_execution_end(
        self, etype: str, ts: datetime, details: Mapping[str, Any], where: str, event_id: int
    ) -> None:
        self.status = _EXECUTION_END[etype]
        self.stopped_at = ts
        self.output = json_or_text(details.get("output"))
        self.error = details.get("error")
        self.cause = details.get("cause")
        visit = self.visit
        if visit is not None and etype != "ExecutionSucceeded" and visit.type != "Fail":
            visit.failed_hard = True

    # -- *StateEntered (the *StateExited bookkeeping is common: see read)
    def on_state_entered(
        self, etype: str, ts: datetime, details: Mapping[str, Any], where: str, event_id: int
    ) -> None:
        previous = self.visit
        if previous is not None and previous.last_task is not None and previous.failures:
            # A Catch moved on without a *StateExited event for the failed state: the
            # next state's entry ends it.
            previous.exited_at = ts
            previous.closed = True
        ctx = self.ctx
        visit = VisitBuilder(
            name=str(details.get("name", "?")),
            type=_state_type(etype),
            entered_at=ts,
            ctx=ctx,
            iteration=self.iteration_key(ctx),
            input=json_or_text(details.get("input")),
        )
        self.visit = visit
        self.visits.append(visit)
        if ctx:
            map_id, index = ctx[-1]
            iteration = self.maps_by_id[map_id].iterations.get(index)
            if iteration is not None:
                iteration.visits.append(visit)
        if visit.type == "Map":
            new_map = MapBuilder(visit=visit, entered_id=event_id, started_at=ts)
            self.maps.append(new_map)
            self.maps_by_id[event_id] = new_map
            self.open_map[ctx] = new_map

    # -- MapIteration*: they name their Map and index
    def on_map_iteration(
        self, etype: str, ts: datetime, details: Mapping[str, Any], where: str, event_id: int
    ) -> None:
        name = details.get("name")
        found = self.resolve_map(self.ctx, name if isinstance(name, str) else None)
        index = details.get("index")
        if found is None or not isinstance(index, int):
            raise HistoryError(f"{where}: {etype} outside a Map state")
        map_ctx, owner = found
        self.ctx = (*map_ctx, (owner.entered_id, index))
        self.visit = None
        iteration = owner.iterations.get(index)
        if etype == "MapIterationStarted" or iteration is None:
            iteration = IterationBuilder(map_name=owner.visit.name, index=index, started_at=ts)
            owner.iterations[index] = iteration
        if etype != "MapIterationStarted":
            iteration.ended_at = ts
            iteration.status = _ITERATION_END.get(etype, "running")

    # -- MapState* / MapRun*: the Map state's own visit
    def on_map_state(
        self, etype: str, ts: datetime, details: Mapping[str, Any], where: str, event_id: int
    ) -> None:
        found = self.resolve_map(
            self.ctx, details.get("name") if etype == "MapStateExited" else None
        )
        if found is None:
            return
        self.ctx, owner = found
        visit = self.visit = owner.visit
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

    # -- task events (Task* and LambdaFunction*), inside the visit of their state
    def on_task_scheduled(
        self, etype: str, ts: datetime, details: Mapping[str, Any], where: str, event_id: int
    ) -> None:
        visit = self.visit
        if visit is None:
            return
        task = TaskBuilder(
            state=visit.name,
            function=_function_name(details),
            resource=_resource(details),
            scheduled_at=ts,
            attempt=visit.attempts + 1,
            iteration=visit.iteration,
            scope=visit.ctx,
        )
        visit.attempts += 1
        visit.last_task = task
        self.tasks.append(task)

    def on_task_started(
        self, etype: str, ts: datetime, details: Mapping[str, Any], where: str, event_id: int
    ) -> None:
        if self.visit is not None and self.visit.last_task is not None:
            self.visit.last_task.started_at = ts

    def on_task_succeeded(
        self, etype: str, ts: datetime, details: Mapping[str, Any], where: str, event_id: int
    ) -> None:
        if self.visit is not None and self.visit.last_task is not None:
            self.visit.last_task.ended_at = ts
            self.visit.last_task.outcome = "succeeded"

    def on_task_failed(
        self, etype: str, ts: datetime, details: Mapping[str, Any], where: str, event_id: int
    ) -> None:
        visit = self.visit
        if visit is None:
            return
        visit.failures += 1
        visit.error = details.get("error") or (
            "States.Timeout" if "TimedOut" in etype else "States.TaskFailed"
        )
        visit.cause = details.get("cause")
        if visit.last_task is not None:
            visit.last_task.ended_at = ts
            visit.last_task.outcome = _TASK_FAILURES[etype]
            visit.last_task.error = visit.error
            visit.last_task.cause = visit.cause

    def result(
        self, meta: Mapping[str, Any] | None, definition: Mapping[str, Any] | None
    ) -> ExecutionHistory:
        done = self.status != "RUNNING"
        status = self.status
        if meta and not done:
            status = str(meta.get("status") or status)
        name, arn, machine = _identity(meta)
        return ExecutionHistory(
            events=tuple(self.events),
            status=status,
            started_at=self.started_at,
            stopped_at=self.stopped_at,
            input=self.input,
            output=self.output,
            error=self.error,
            cause=self.cause,
            states=tuple(freeze_visit(v, done) for v in self.visits),
            maps=tuple(freeze_map(m, done) for m in self.maps),
            tasks=tuple(freeze_task(t) for t in self.tasks),
            name=name,
            execution_arn=arn,
            state_machine_arn=machine,
            definition=definition,
        )


Handler = Callable[[_Parser, str, datetime, Mapping[str, Any], str, int], None]


def _handler_for(etype: str) -> Handler | None:
    """The handler of an event's family (None: the event only joins its visit)."""
    exact = _EXACT_HANDLERS.get(etype)
    if exact is not None:
        return exact
    if etype.endswith("StateEntered"):
        return _Parser.on_state_entered
    if etype.startswith("MapIteration"):
        return _Parser.on_map_iteration
    if etype.startswith(("MapState", "MapRun")):
        return _Parser.on_map_state
    return None


_EXACT_HANDLERS: dict[str, Handler] = {
    "ExecutionStarted": _Parser.on_execution_started,
    **dict.fromkeys(_EXECUTION_END, _Parser.on_execution_end),
    **dict.fromkeys(_TASK_SCHEDULED, _Parser.on_task_scheduled),
    **dict.fromkeys(_TASK_STARTED, _Parser.on_task_started),
    **dict.fromkeys(_TASK_SUCCEEDED, _Parser.on_task_succeeded),
    **dict.fromkeys(_TASK_FAILURES, _Parser.on_task_failed),
}


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
    parser = _Parser(parse_timestamp(first.get("timestamp"), where="events[0]"))
    for position, raw in enumerate(raw_events):
        parser.read(position, raw)
    return parser.result(meta, definition)


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
