"""Where moto 5.2.5's Step Functions interpreter differs from AWS, and what the engine does.

moto is pinned exactly (pyproject.toml) because these hooks reach into its internals. Each gap
was checked against moto 5.2.5; 1-6 and 8 have tests in tests/workflow/test_moto_gaps.py
(7 changes no behaviour: the workflow tests run through it, bench/engine_overhead.py times it):

1. EXPRESS child executions: the parser accepts only ProcessorConfig.ExecutionType "STANDARD"
   (ASLParserException: mismatched input '"EXPRESS"' expecting '"STANDARD"').
   `normalize_definition` runs them as STANDARD. moto runs distributed children in-process
   without a history of their own either way, so nothing observable changes; the engine still
   records them as Express children (meta.json "distributed").
2. An integer ToleratedFailurePercentage (AWS accepts 0..100) fails to parse ("no viable
   alternative at input"). `normalize_definition` writes it as a float.
3. ToleratedFailurePercentage / ToleratedFailureCount parse but have no effect: a map run never
   fails, whatever fails inside it. The engine enforces them as AWS does, as soon as a child
   ends: when the failed (or timed-out) children exceed ToleratedFailureCount or
   ToleratedFailurePercentage of all the items (either, when both are set; with neither, one
   failure), no further child starts, the children still running are stopped (ABORTED, after
   the state they are in: a Lambda invocation in flight finishes) and the Map Run fails with
   States.ExceedToleratedFailureThreshold, "The specified tolerated failure threshold was
   exceeded" (MapRunFailed, then the Map state's Catch or the execution's failure).
   meta.json's "distributed" counts the failed and aborted children and the items not started.
4. ResultWriter Parameters paths ("Prefix.$": "$.run.results_prefix") are evaluated against
   the children's outputs (an array) instead of the Map state's input, so any path fails with
   States.Runtime. The engine evaluates them against the state input, as AWS does.
   ResultWriter writes only manifest.json, with empty ResultFiles. The engine writes the
   result files as AWS does (SUCCEEDED_0.json, FAILED_0.json: JSON arrays of child executions
   with ExecutionArn, Input, Output, Status, ...) and lists them in the manifest.
5. $$.Execution.StartTime and $$.State.EnteredTime are rendered as Python prints a datetime
   ("2026-11-26T19:36:23.913874+00:00"); AWS gives milliseconds and "Z"
   ("2026-11-26T19:36:23.913Z"). The engine sets the AWS form.
6. ItemBatcher is not supported (ASLParserException); crawlmap does not use it (ListPages
   makes the batches). The engine reports the parse error as an EngineError.
7. Speed, not behaviour: (a) every JSONPath evaluation parses its path again with jsonpath_ng,
   which builds a new PLY parser each time (~1 ms, about ten per Map iteration); the engine
   caches parsed paths. (b) For every Map iteration moto deep-copies the whole Map state input
   before evaluating the ItemSelector (whose paths only read it): a Map over n items copies
   n x n items. The engine lets the ItemSelector read the input in place (its paths copy
   what they extract). (c) The Map's closed jobs (every iteration's output) are deep-copied
   once more when the Map collects them; each output is already the iteration's own, so the
   engine sorts them without the copy (memory: one copy of all results less). (d) The
   interpreter deep-copies every state's input, result, parameters and stack with
   copy.deepcopy, whose memo bookkeeping made it ~20% of the CPU of a one-page-per-child
   distributed Map (bench/fanout_speedup.py); those values are JSON (dicts, lists, atoms), so
   the engine copies them with a plain JSON-tree copy (anything else still goes through
   copy.deepcopy). (e) ItemReader and ResultWriter build a new boto3 S3 client each (~3 ms of
   CPU); the engine keeps one per run.
8. Retry and Wait sleep for real. Locally the engine can scale those waits by `time_scale`
   (tests and benchmarks use a small factor); AWS always waits the full interval.
9. Lambda never throttles: moto's Lambda is not used (the handlers run in-process), and it
   has no concurrency limits. The engine applies Lambda's (throttle.py) in the invoke hook:
   over a function's reserved or the account's concurrency the hook raises Lambda's 429
   ClientError, which moto's lambda:invoke integration reports as AWS does:
   `Lambda.TooManyRequestsException`, "Rate Exceeded. (Service: AWSLambda; Status Code: 429;
   Error Code: TooManyRequestsException; Request ID: ...; Proxy: null)". (A Task with a bare
   function ARN as its Resource gets moto's "Exception" instead; crawlmap uses lambda:invoke.)
   Tests: tests/workflow/test_engine_limits.py.
10. A distributed Map's child executions have no history of their own: moto publishes every
   child's events into one list of the Map Run. The engine also gives each event to the child
   whose worker thread published it (ChildExecution.events) and saves each child's history,
   numbered from 1 between ExecutionStarted and its end event, as GetExecutionHistory gives a
   STANDARD child's, in the run folder's children/ (the report draws every batch from them).
"""

from __future__ import annotations

import copy
import datetime
import functools
import importlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.core.botocore_stubber import BotocoreStubber
from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.common.path import result_path
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state import state as state_module
from moto.stepfunctions.parser.asl.component.state.exec.state_map import (
    state_map,
    tolerated_failure,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval import (
    resource_eval_s3 as item_reader_s3,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
    distributed_iteration_component,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
    job as map_jobs,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
    distributed_item_processor_worker,
    inline_item_processor_worker,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer import (
    result_writer_decl,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval import (  # noqa: E501
    resource_eval_s3,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
from moto.stepfunctions.parser.asl.eval.program_state import (
    ProgramEnded,
    ProgramError,
    ProgramStopped,
    ProgramTimedOut,
)
from moto.stepfunctions.parser.asl.utils import json_path
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

from crawlmap.engine.throttle import ConcurrencyLimits

InvokeLambda = Callable[[dict[str, Any]], dict[str, Any]]

# moto modules whose copy.deepcopy calls copy JSON values (state data, stacks, parameters).
_JSON_COPYING_MODULES = (
    "moto.stepfunctions.parser.asl.eval.states",
    "moto.stepfunctions.parser.asl.eval.environment",
    "moto.stepfunctions.parser.asl.eval.event.event_manager",
    "moto.stepfunctions.parser.asl.component.common.string.string_expression",
    "moto.stepfunctions.parser.asl.component.common.path.result_path",
    "moto.stepfunctions.parser.asl.component.state.exec.execute_state",
    "moto.stepfunctions.parser.asl.component.state.exec.state_map.state_map",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service",
)
_ATOMS = frozenset({str, int, float, bool, type(None)})


def json_copy(value: Any) -> Any:
    """A deep copy of a JSON tree (dict, list, str, numbers, bool, None) without
    copy.deepcopy's memo; any other object inside is copied by copy.deepcopy."""
    kind = type(value)
    # Leaves (most of a tree's nodes) are taken as they are, without a call each.
    if kind is dict:
        return {k: v if type(v) in _ATOMS else json_copy(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _ATOMS else json_copy(v) for v in value]
    if kind in _ATOMS:
        return value
    return copy.deepcopy(value)


class _JsonCopyModule:
    """Stands in for the `copy` module inside moto's interpreter: deepcopy is json_copy."""

    deepcopy = staticmethod(json_copy)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def normalize_definition(definition: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Rewrite what moto cannot parse into what it runs the same way (gaps 1 and 2).

    Returns the new definition and one note per rewrite.
    """
    notes: list[str] = []

    def walk(node: Any, path: str) -> Any:
        if isinstance(node, list):
            return [walk(v, f"{path}[{i}]") for i, v in enumerate(node)]
        if not isinstance(node, dict):
            return node
        out = {k: walk(v, f"{path}.{k}") for k, v in node.items()}
        config = out.get("ProcessorConfig")
        if isinstance(config, dict) and config.get("ExecutionType") == "EXPRESS":
            out["ProcessorConfig"] = {**config, "ExecutionType": "STANDARD"}
            notes.append(f"{path}: EXPRESS child executions run as STANDARD (moto gap)")
        pct = out.get("ToleratedFailurePercentage")
        if isinstance(pct, int) and not isinstance(pct, bool):
            out["ToleratedFailurePercentage"] = float(pct)
            notes.append(f"{path}: integer ToleratedFailurePercentage written as float (moto gap)")
        return out

    return walk(definition, "$"), notes


def _iso(moment: datetime.datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _now() -> datetime.datetime:
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
    # The events its states published, as moto records them in the Map Run's shared list.
    events: list[dict[str, Any]] = field(default_factory=list)

    def history(self) -> list[dict[str, Any]]:
        """Its own execution history, as GetExecutionHistory gives a STANDARD child's: events
        numbered from 1 between ExecutionStarted and its end event."""
        renumber = {0: 0}
        started: dict[str, Any] = {
            "timestamp": _iso(self.start),
            "type": "ExecutionStarted",
            "id": 1,
            "previousEventId": 0,
            "executionStartedEventDetails": {
                "input": json.dumps(self.input, separators=(",", ":")),
                "inputDetails": {"truncated": False},
            },
        }
        events = [started]
        for event in self.events:
            own = dict(event)
            renumber[int(event["id"])] = own["id"] = len(events) + 1
            # A first state points at the parent's Map events: here, at ExecutionStarted.
            own["previousEventId"] = renumber.get(int(event.get("previousEventId", 0)), 1)
            events.append(own)
        end_type, details_key, details = {
            "SUCCEEDED": (
                "ExecutionSucceeded",
                "executionSucceededEventDetails",
                {"output": json.dumps(self.output, separators=(",", ":")),
                 "outputDetails": {"truncated": False}},
            ),
            "ABORTED": ("ExecutionAborted", "executionAbortedEventDetails", {}),
            "TIMED_OUT": ("ExecutionTimedOut", "executionTimedOutEventDetails", {}),
        }.get(self.status, ("ExecutionFailed", "executionFailedEventDetails", {}))  # fmt: skip
        if self.status not in ("SUCCEEDED", "ABORTED"):
            details = {"error": self.error or "States.Runtime", "cause": self.cause or ""}
        events.append(
            {
                "timestamp": _iso(self.stop or self.start),
                "type": end_type,
                "id": len(events) + 1,
                "previousEventId": len(events),
                details_key: details,
            }
        )
        return events

    def duration_ms(self) -> float:
        return 0.0 if self.stop is None else (self.stop - self.start).total_seconds() * 1000

    def to_result_entry(self, execution_arn: str) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "ExecutionArn": execution_arn,
            "Input": json.dumps(self.input, separators=(",", ":")),
            "InputDetails": {"Included": True},
            "Name": self.name,
            "StartDate": _iso(self.start),
            "StopDate": _iso(self.stop or self.start),
            "Status": self.status,
        }
        if self.status == "SUCCEEDED":
            entry["Output"] = json.dumps(self.output, separators=(",", ":"))
            entry["OutputDetails"] = {"Included": True}
        else:
            entry["Error"] = self.error or "States.Runtime"
            entry["Cause"] = self.cause or ""
        return entry


# AWS's Cause when a Map Run fails on its tolerated failure threshold (a recorded execution's).
EXCEEDED_THRESHOLD_CAUSE = "The specified tolerated failure threshold was exceeded"


@dataclass(frozen=True)
class FailureThreshold:
    """A distributed Map's ToleratedFailureCount / ToleratedFailurePercentage (None: not set).

    As AWS: the percentage is of all the Map Run's items; with both set the Map Run fails when
    either is exceeded; with neither, one failed (or timed out) child fails it."""

    items: int
    count: int | None
    percentage: float | None

    def exceeded_by(self, failed: int) -> bool:
        if self.count is None and self.percentage is None:
            return failed > 0
        over_count = self.count is not None and failed > self.count
        over_pct = self.percentage is not None and failed * 100.0 > self.percentage * self.items
        return over_count or over_pct


@dataclass
class MapRunStats:
    map_run_arn: str
    children: list[ChildExecution] = field(default_factory=list)
    state_transitions: int = 0
    threshold: FailureThreshold | None = None
    failed: int = 0  # children FAILED or TIMED_OUT: what the threshold counts
    exceeded: bool = False  # the threshold was crossed: the Map Run fails
    not_started: int = 0  # items whose child never started because the Map Run was failing
    running: dict[int, Any] = field(default_factory=dict)  # job index -> its child's frame


@dataclass
class ActiveRun:
    """What the patched interpreter calls back into while one execution runs."""

    invoke_lambda: InvokeLambda
    time_scale: float = 1.0
    concurrency: ConcurrencyLimits | None = None  # Lambda's limits (throttle.py); None: none
    map_runs: dict[str, MapRunStats] = field(default_factory=dict)
    s3_requests: dict[str, int] = field(default_factory=lambda: {"get": 0, "put": 0})
    lock: threading.Lock = field(default_factory=threading.Lock)
    s3_clients: dict[str, Any] = field(default_factory=dict)  # region -> boto3 S3 client

    def map_run(self, arn: str) -> MapRunStats:
        with self.lock:
            return self.map_runs.setdefault(arn, MapRunStats(arn))


_active: ActiveRun | None = None
_install_lock = threading.Lock()
_installed = False
_job = threading.local()


def activate(run: ActiveRun | None) -> None:
    """Route the interpreter's hooks to `run` (None: no run is active)."""
    global _active
    _active = run


def _require_active() -> ActiveRun:
    """The active run; the hooks that need one fall back to moto's own code when there is none,
    so moto keeps working in this process after an engine run (tests, notebooks)."""
    if _active is None:
        raise RuntimeError("no local engine run is active")
    return _active


def install() -> None:
    """Patch moto's interpreter once per process (idempotent)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        _patch_lambda()
        _patch_waits()
        _patch_json_path_parsing()
        _patch_item_selector_input()
        _patch_closed_jobs()
        _patch_distributed_map()
        _patch_child_events()
        _patch_result_writer()
        _patch_s3_counter()
        _patch_start_time()
        _patch_entered_time()
        _patch_json_copies()
        _patch_s3_clients()
        _installed = True


def _patch_lambda() -> None:
    # One interception point serves both arn:aws:states:::lambda:invoke and direct function
    # ARNs; moto expects the response of Lambda's Invoke with the Payload already parsed.
    original = lambda_eval_utils._invoke_lambda_function

    def invoke(parameters: dict[str, Any], region: str, state_credentials: Any) -> dict[str, Any]:
        run = _active
        if run is None:  # plain moto use in this process after an engine run
            return original(parameters, region, state_credentials)
        if run.concurrency is None:
            return run.invoke_lambda(parameters)
        # Over its function's or the account's limit, the invocation fails as Lambda's Invoke
        # does (429): moto's interpreter names a ClientError "Lambda.<code>" (gap 9).
        with run.concurrency.slot(str(parameters.get("FunctionName", ""))):
            return run.invoke_lambda(parameters)

    lambda_eval_utils._invoke_lambda_function = invoke


class _ScaledTime:
    """Stands in for the `time` module inside moto's retrier: sleeps scaled by the run's factor."""

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        scale = _active.time_scale if _active is not None else 1.0
        time.sleep(max(0.0, seconds * scale))


def _patch_waits() -> None:
    retrier_decl.time = _ScaledTime()

    def wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        scale = _active.time_scale if _active is not None else 1.0
        if wait_seconds > 0:
            env.program_state_event.wait(wait_seconds * scale)

    wait_function.WaitFunction._wait_interval = wait_interval


def _patch_json_path_parsing() -> None:
    # Parsed paths are immutable and find() is pure, so one parse per distinct path is enough.
    json_path.parse = functools.lru_cache(maxsize=4096)(json_path.parse)
    result_path.parse = functools.lru_cache(maxsize=4096)(result_path.parse)


def _patch_closed_jobs() -> None:
    def get_closed_jobs(self: Any) -> list[Any]:
        with self._mutex:
            closed = list(self._closed_jobs)
        return sorted(closed, key=lambda closed_job: closed_job.job_index)

    map_jobs.JobPool.get_closed_jobs = get_closed_jobs


def _patch_item_selector_input() -> None:
    worker_cls = inline_item_processor_worker.InlineItemProcessorWorker

    def eval_input(self: Any, env_frame: Any) -> None:
        if not self._parameters and not self._item_selector:
            return
        map_state_input = self._env.stack[-1]
        # moto: env_frame.states.reset(map_state_input), a deep copy of all the items, per item.
        env_frame.states._states_data.update(input=map_state_input, result=None, errorOutput=None)
        env_frame.stack.append(map_state_input)
        (self._item_selector or self._parameters).eval(env_frame)
        env_frame.states.reset(input_value=env_frame.stack[-1])

    worker_cls._eval_input = eval_input


def _child_outcome(env: Any, job: Any, child: ChildExecution) -> None:
    state = env.program_state()
    if isinstance(state, ProgramEnded) and job.job_output is not None:
        child.status, child.output = "SUCCEEDED", job.job_output
        return
    if isinstance(state, ProgramStopped):
        child.status, child.error, child.cause = "ABORTED", state.error, state.cause
        return
    child.status = "TIMED_OUT" if isinstance(state, ProgramTimedOut) else "FAILED"
    if isinstance(state, ProgramError) and state.error:
        child.error = state.error.get("error")
        child.cause = state.error.get("cause")
    elif child.status == "TIMED_OUT":
        child.error = StatesErrorNameType.StatesTimeout.to_name()


class _ChildThread(threading.Thread):
    """A thread of moto's interpreter that knows the distributed child it works for: moto runs
    a program, an inline Map's iterations and a state's execution each in a new thread."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._child = getattr(_job, "child", None)

    def run(self) -> None:
        _job.child = self._child
        super().run()


def _patch_child_events() -> None:
    """A distributed child's events also go to its ChildExecution (gap 10): moto publishes
    every child's events into one list of the Map Run, from threads its worker starts."""
    import types

    from moto.stepfunctions.parser.asl.component.program import program as program_module
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
        inline_iteration_component,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import branch_worker

    child_aware = types.SimpleNamespace(**{**vars(threading), "Thread": _ChildThread})
    for module in (program_module, inline_iteration_component, branch_worker, execute_state):
        module.threading = child_aware
    execute_state.Thread = _ChildThread
    original = EventManager._publish_history_event

    def publish(self: Any, **kwargs: Any) -> None:
        original(self, **kwargs)
        child = getattr(_job, "child", None)
        if child is not None and _active is not None:
            child.events.append(self._history_event_list[-1])

    EventManager._publish_history_event = publish


def _patch_distributed_map() -> None:
    worker_cls = distributed_item_processor_worker.DistributedItemProcessorWorker
    original_eval_job = worker_cls._eval_job
    original_eval_input = worker_cls._eval_input

    def eval_job(self: Any, env: Any, job: Any) -> None:
        if _active is None:
            original_eval_job(self, env, job)
            return
        run = _active
        stats = run.map_run(self._map_run_record.map_run_arn)
        with run.lock:
            if stats.exceeded:  # the Map Run is failing: no child starts any more (gap 3)
                stats.not_started += 1
                job.job_output = None
                return
            stats.running[job.job_index] = env
        child = ChildExecution(
            index=job.job_index, name=str(uuid.uuid4()), start=_now(), input=job.job_input
        )
        _job.child = child
        try:
            original_eval_job(self, env, job)
        finally:
            _job.child = None
            child.stop = _now()
            _child_outcome(env, job, child)
            with run.lock:
                stats.running.pop(job.job_index, None)
                stats.children.append(child)
                stats.failed += child.status in ("FAILED", "TIMED_OUT")
                crossed = (
                    not stats.exceeded
                    and stats.threshold is not None
                    and stats.threshold.exceeded_by(stats.failed)
                )
                if crossed:
                    stats.exceeded = True
                to_stop = list(stats.running.values()) if crossed else []
            # The children still running are stopped as the Map Run fails (ABORTED): each ends
            # after the state it is in (a Lambda invocation in flight finishes, as on AWS).
            for frame in to_stop:
                frame.set_stop(stop_date=_now(), cause=EXCEEDED_THRESHOLD_CAUSE, error=None)

    def eval_input(self: Any, env_frame: Any) -> None:
        original_eval_input(self, env_frame)
        child: ChildExecution | None = getattr(_job, "child", None)
        if child is not None:
            child.input = env_frame.states.get_input()  # after ItemSelector, as AWS reports it

    worker_cls._eval_job = eval_job
    worker_cls._eval_input = eval_input

    component_cls = distributed_iteration_component.DistributedIterationComponent
    original_map_run = component_cls._map_run

    def map_run(self: Any, env: Any, eval_input: Any) -> None:
        if _active is None:
            original_map_run(self, env, eval_input)
            return
        stats = _active.map_run(eval_input.map_run_record.map_run_arn)
        count_set, percentage_set = getattr(self, _TOLERANCE_GIVEN, (True, True))
        stats.threshold = FailureThreshold(
            items=len(env.stack[-1]),  # the items the ItemReader read
            count=eval_input.tolerated_failure_count if count_set else None,
            percentage=eval_input.tolerated_failure_percentage if percentage_set else None,
        )
        original_map_run(self, env, eval_input)
        # The children's events went to a map-run-local event manager; count their transitions.
        events = env.event_manager._history_event_list
        stats.state_transitions = sum(1 for e in events if str(e["type"]).endswith("StateEntered"))
        if stats.exceeded:
            _fail_map_run(env)

    component_cls._map_run = map_run

    # Which tolerance fields the definition gives: moto keeps only their values (default 0).
    original_from_state_props = state_map.StateMap.from_state_props

    def from_state_props(self: Any, state_props: Any) -> None:
        original_from_state_props(self, state_props)
        given = (
            state_props.get(tolerated_failure.ToleratedFailureCountDecl) is not None,
            state_props.get(tolerated_failure.ToleratedFailurePercentageDecl) is not None,
        )
        setattr(self.iteration_component, _TOLERANCE_GIVEN, given)

    state_map.StateMap.from_state_props = from_state_props


_TOLERANCE_GIVEN = "_crawlmap_tolerance_given"


def _fail_map_run(env: Any) -> None:
    error = StatesErrorNameType.StatesExceedToleratedFailureThreshold.to_name()
    raise FailureEventException(
        FailureEvent(
            env=env,
            error_name=StatesErrorName(
                typ=StatesErrorNameType.StatesExceedToleratedFailureThreshold
            ),
            event_type=HistoryEventType.MapRunFailed,
            event_details=EventDetails(
                mapRunFailedEventDetails=MapRunFailedEventDetails(
                    error=error, cause=EXCEEDED_THRESHOLD_CAUSE
                )
            ),
        )
    )


def _patch_result_writer() -> None:
    def eval_body(self: Any, env: Any) -> None:
        outputs = env.stack.pop()
        env.stack.append(env.states.get_input())  # paths see the Map state's input
        self.parargs.eval(env=env)
        parameters = env.stack.pop()
        env.stack.pop()
        env.stack.append(outputs)
        env.stack.append(parameters)
        self.resource_eval.eval_resource(env=env)

    result_writer_decl.ResultWriter._eval_body = eval_body

    original_put_object = resource_eval_s3.ResourceEvalS3._handle_put_object

    def handle_put_object(env: Any, resource_runtime_part: Any, state_credentials: Any) -> None:
        if _active is None:
            original_put_object(env, resource_runtime_part, state_credentials)
            return
        parameters = env.stack.pop()
        env.stack.pop()  # the children's outputs: written from the recorded child executions
        s3 = _s3_client(resource_runtime_part.region, state_credentials)
        map_run_arn: str = env.map_run_record_pool_manager.get_all()[-1].map_run_arn
        stats = _require_active().map_run(map_run_arn)
        prefix = parameters.get("Prefix", "")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        bucket = parameters["Bucket"]
        map_run_id = map_run_arn.split(":")[-1]
        express_base = map_run_arn.replace(":mapRun:", ":express:", 1)
        files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
        for status in ("SUCCEEDED", "FAILED"):
            entries = [
                c.to_result_entry(f"{express_base}:{c.name}")
                for c in sorted(stats.children, key=lambda c: c.index)
                if (c.status == "SUCCEEDED") == (status == "SUCCEEDED")
            ]
            if not entries:
                continue
            key = f"{prefix}{map_run_id}/{status}_0.json"
            body = json.dumps(entries).encode()
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            files[status].append({"Key": key, "Size": len(body)})
        for child in stats.children:  # written: the engine needs only their status from here
            child.input = child.output = None
        manifest = {"DestinationBucket": bucket, "MapRunArn": map_run_arn, "ResultFiles": files}
        key = f"{prefix}{map_run_id}/manifest.json"
        s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(manifest, indent=2).encode())
        env.stack.append(
            {"MapRunArn": map_run_arn, "ResultWriterDetails": {"Bucket": bucket, "Key": key}}
        )

    resource_eval_s3.ResourceEvalS3._handle_put_object = staticmethod(handle_put_object)


def _patch_s3_counter() -> None:
    original_call = BotocoreStubber.__call__

    def call(self: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> Any:
        run = _active
        if run is not None and self.enabled and "s3" in event_name.split(".")[1:2]:
            kind = "put" if request.method in ("PUT", "POST", "DELETE") else "get"
            with run.lock:
                run.s3_requests[kind] += 1
        return original_call(self, event_name, request, **kwargs)

    BotocoreStubber.__call__ = call


def _patch_start_time() -> None:
    original = ExecutionWorker._get_evaluation_environment

    def evaluation_environment(self: Any) -> Any:
        env = original(self)
        execution = env.states.context_object.context_object_data["Execution"]
        start = execution.get("StartTime")
        if isinstance(start, datetime.datetime):
            execution["StartTime"] = _iso(start.astimezone(datetime.UTC))
        return env

    ExecutionWorker._get_evaluation_environment = evaluation_environment


def _patch_entered_time() -> None:
    original = state_module.StateData

    def state_data(**fields: Any) -> Any:
        entered = fields.get("EnteredTime")
        if isinstance(entered, str):
            moment = datetime.datetime.fromisoformat(entered)
            fields["EnteredTime"] = _iso(moment.astimezone(datetime.UTC))
        return original(**fields)

    state_module.StateData = state_data


def _patch_json_copies() -> None:
    for name in _JSON_COPYING_MODULES:
        module = importlib.import_module(name)
        if getattr(module, "copy", None) is copy:
            module.copy = _JsonCopyModule()  # type: ignore[attr-defined]


def _s3_client(region: str, state_credentials: Any) -> Any:
    """The run's S3 client for the ItemReader and ResultWriter (moto builds one per use)."""
    run = _active
    if run is None:
        return boto_client_for(service="s3", region=region, state_credentials=state_credentials)
    with run.lock:
        client = run.s3_clients.get(region)
        if client is None:
            client = boto_client_for(
                service="s3", region=region, state_credentials=state_credentials
            )
            run.s3_clients[region] = client
    return client


def _patch_s3_clients() -> None:
    def get_s3_client(resource_runtime_part: Any, state_credentials: Any) -> Any:
        return _s3_client(resource_runtime_part.region, state_credentials)

    item_reader_s3.ResourceEvalS3._get_s3_client = staticmethod(get_s3_client)
