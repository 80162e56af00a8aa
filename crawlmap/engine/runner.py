"""Run one execution of the synthesized state machine locally and save it as a run folder.

moto stands in for AWS here: its Step Functions interpreter runs the definition, its S3 holds
the distributed Map's item list and results; the Lambda handlers run in-process (adapter.py)
and the store is SQLite. See moto_patches/ for where moto differs from AWS.

This module prepares a run, drives it and saves it; its helpers have modules of their own:
task_states.py (which state calls which function, what will be retried), process_context.py
(environment and logs), backend.py (moto's backend read directly), interrupt.py (Ctrl-C).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import functools
import json
import logging
import shutil
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws

from crawlmap.engine import moto_patches, task_states
from crawlmap.engine.adapter import FunctionRuntime, Invocation, LambdaAdapter, fresh_container
from crawlmap.engine.backend import history, wait_for
from crawlmap.engine.errors import EngineError
from crawlmap.engine.hooks import EngineHooks, NoHooks, RunContext, RunHooks
from crawlmap.engine.interrupt import InFlight, RunInterrupted, stop_interrupted
from crawlmap.engine.isolation import log_keys
from crawlmap.engine.isolation.environment import per_invocation_environ
from crawlmap.engine.process_context import function_logs_to, process_environment
from crawlmap.engine.resources import LocalResources, RunEnvironment, run_environment
from crawlmap.engine.template import (
    ACCOUNT_ID,
    REGION,
    definition_of,
    function_specs,
    load_template,
)
from crawlmap.engine.throttle import ACCOUNT_CONCURRENCY, ConcurrencyLimits
from crawlmap.runfolder import (
    DistributedMeta,
    FunctionMeta,
    RunFolderWriter,
    RunMeta,
    cache_dir,
    crawlmap_home,
    new_run_id,
    plain,
    read_results,
    schema,
)

STATE_PAYLOAD_LIMIT = 256 * 1024  # bytes: Step Functions' limit on a state's input or output
_run_lock = threading.Lock()  # moto's interpreter hooks are process-wide: one run at a time


@dataclass(frozen=True)
class EngineOptions:
    home: Path = field(default_factory=crawlmap_home)
    # What the application adds (crawlmap: crawl_hooks.CrawlHooks); NoHooks runs a template
    # as it is.
    hooks: EngineHooks = field(default_factory=NoHooks)
    time_scale: float = 1.0  # Retry/Wait intervals are multiplied by this (AWS: always 1)
    env_overrides: Mapping[str, str] = field(default_factory=dict)
    context_overrides: Mapping[str, Any] = field(default_factory=dict)  # cdk.json context
    template: Mapping[str, Any] | None = None  # an already synthesized template
    template_path: Path | None = None  # or a template file (cdk.out/<stack>.template.json)
    on_invocation: Callable[[Invocation], None] | None = None
    run_id: str | None = None
    # Lambda's regional account limit on invocations in flight; with each function's
    # ReservedConcurrentExecutions it throttles invocations as AWS does (throttle.py).
    account_concurrency: int = ACCOUNT_CONCURRENCY


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    run_dir: Path
    status: str  # SUCCEEDED | FAILED | TIMED_OUT | ABORTED
    execution_arn: str
    input: Any
    output: Any
    error: str | None
    cause: str | None
    summary: dict[str, Any] | None  # the hooks' summary (crawlmap: the RunSummary)
    events: list[dict[str, Any]]
    meta: dict[str, Any]

    @functools.cached_property
    def results(self) -> list[dict[str, Any]]:
        """results.jsonl, read when asked (a long run's results stay on disk until then)."""
        path = self.run_dir / "results.jsonl"
        return [dict(r) for r in read_results(path)] if path.is_file() else []


def _largest_state_payload(events: list[dict[str, Any]]) -> int:
    largest = 0
    for event in events:
        for key in ("stateEnteredEventDetails", "stateExitedEventDetails"):
            details = event.get(key)
            if details:
                text = details.get("input") or details.get("output") or ""
                largest = max(largest, len(text.encode()))
    return largest


def _handler_packages(specs: Mapping[str, Any]) -> tuple[str, ...]:
    """The top-level packages of the template's handlers ("lambdas" for
    "lambdas.crawl_batch.handler.handler"): what a fresh container imports anew."""
    return tuple(sorted({str(spec.handler).split(".", 1)[0] for spec in specs.values()}))


@dataclass
class PreparedRun:
    """One execution's engine state before it starts: what `engine_session` runs it in and
    `save_run` writes. run_execution uses all three; `crawlmap serve` (crawlmap/serve/) starts
    its executions through moto's API instead, inside the same session."""

    options: EngineOptions
    resources: LocalResources
    definition: dict[str, Any]  # as moto runs it (moto_patches.normalize_definition)
    runtimes: list[FunctionRuntime]
    handler_packages: tuple[str, ...]
    run_id: str
    writer: RunFolderWriter
    environment: RunEnvironment
    notes: list[str]
    adapter: LambdaAdapter
    active: moto_patches.ActiveRun
    hooks: RunHooks

    @property
    def run_dir(self) -> Path:
        return self.writer.path

    def stage_input(self, execution_input: Mapping[str, Any]) -> Mapping[str, Any]:
        """The execution input as the hooks start it (inside the mock)."""
        return self.hooks.stage_input(execution_input, self.environment.variables)


def prepare_run(options: EngineOptions) -> PreparedRun:
    """Read the template, map its resources, build the functions and create the run folder."""
    template = options.template or load_template(
        cache_dir(), options.context_overrides, options.template_path
    )
    resources = LocalResources(template)
    specs = function_specs(template)
    definition, normalizations = moto_patches.normalize_definition(
        definition_of(template, resources)
    )
    callers = task_states.function_states(definition)
    notes = [*normalizations]
    runtimes = [
        FunctionRuntime(
            spec=spec,
            display_name=callers.get(resources.function_arn(lid), lid),
            local_name=resources.function_name(lid),
            arn=resources.function_arn(lid),
        )
        for lid, spec in specs.items()
    ]

    run_id = options.run_id or new_run_id()
    writer = RunFolderWriter.create(run_id, home=options.home)
    hooks = options.hooks.start(
        RunContext(
            run_id=run_id,
            home=options.home,
            writer=writer,
            resources=resources,
            definition=definition,
            notes=notes,
        )
    )
    environment = run_environment(
        specs, resources, local=hooks.environment(), overrides=options.env_overrides
    )
    for runtime in runtimes:  # each function sees only its own environment
        runtime.environment = environment.functions[runtime.spec.logical_id]
    retriers = task_states.retriers(definition)

    def on_invocation(invocation: Invocation) -> None:
        event = invocation.event if isinstance(invocation.event, dict) else {}
        if invocation.error_type is not None:
            rules = retriers.get(invocation.function, [])
            retry = task_states.will_retry(rules, invocation.error_type, event.get("retry_count"))
            invocation = dataclasses.replace(invocation, will_retry=retry)
        hooks.on_invocation(invocation)
        if options.on_invocation is not None:
            options.on_invocation(invocation)

    adapter = LambdaAdapter(runtimes, on_invocation)
    concurrency = ConcurrencyLimits.of(
        {rt.arn: rt.spec.reserved_concurrency for rt in runtimes},
        aliases={rt.local_name: rt.arn for rt in runtimes},
        account_limit=options.account_concurrency,
    )
    return PreparedRun(
        options=options,
        resources=resources,
        definition=definition,
        runtimes=runtimes,
        handler_packages=_handler_packages(specs),
        run_id=run_id,
        writer=writer,
        environment=environment,
        notes=notes,
        adapter=adapter,
        active=moto_patches.ActiveRun(
            invoke_lambda=adapter.invoke,
            time_scale=options.time_scale,
            concurrency=concurrency,
            spool_dir=writer.spool_path,
            on_child_finished=_child_history_saver(writer),
        ),
        hooks=hooks,
    )


@contextlib.contextmanager
def engine_session(run: PreparedRun) -> Iterator[None]:
    """The process state one execution runs in (one at a time): its logs, its environment, a
    fresh container of the handlers, moto's patches, the hooks' session. Not moto's mock:
    the caller's."""
    with (
        _run_lock,
        run.writer.logs_path.open("w", encoding="utf-8") as log,
        function_logs_to(log),
        process_environment(run.environment.variables),
        per_invocation_environ(),
        fresh_container(run.handler_packages),
    ):
        log_keys.install()
        moto_patches.install()
        run.adapter.warm()
        with run.hooks.session():
            yield


def run_execution(execution_input: Mapping[str, Any], options: EngineOptions) -> RunRecord:
    """Run the state machine on `execution_input`; save and return the run."""
    run = prepare_run(options)
    with (
        engine_session(run),
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
    ):
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in run.resources.bucket_names():
            s3.create_bucket(Bucket=bucket)
        sfn = boto3.client("stepfunctions", region_name=REGION)
        try:
            created = sfn.create_state_machine(
                name=run.resources.state_machine_name(),
                definition=json.dumps(run.definition),
                roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/crawlmap-local",
                type="STANDARD",
            )
        except ClientError as exc:
            raise EngineError(f"moto cannot parse the state machine definition: {exc}") from None
        state_machine_arn = created["stateMachineArn"]
        execution_input = run.stage_input(execution_input)
        in_flight = InFlight(run.active.invoke_lambda)
        run.active.invoke_lambda = in_flight
        moto_patches.activate(run.active)
        try:
            started = sfn.start_execution(
                stateMachineArn=state_machine_arn,
                name=run.run_id,
                input=json.dumps(execution_input),
            )
            try:
                described = wait_for(sfn, started["executionArn"])
            except KeyboardInterrupt:
                # Saved inside the mock: a handler still running must not reach real AWS.
                described, events, still_running = stop_interrupted(
                    sfn, started["executionArn"], in_flight
                )
                record = save_run(run, described, events, execution_input)
                # The stopped interpreter's threads log their failures as they unwind: into
                # logs.txt until it closes, then nowhere (not onto the terminal).
                logging.getLogger("moto").disabled = True
                raise RunInterrupted(record, still_running) from None
            events = history(started["executionArn"])
        finally:
            moto_patches.activate(None)
            run.hooks.finished()
    return save_run(run, described, events, execution_input)


def _child_execution_type(definition: Mapping[str, Any]) -> str:
    """The distributed Map's ProcessorConfig.ExecutionType, as the definition says (what AWS
    bills; moto runs every child as STANDARD)."""
    for state in definition.get("States", {}).values():
        processor = state.get("ItemProcessor") if isinstance(state, dict) else None
        config = processor.get("ProcessorConfig", {}) if isinstance(processor, dict) else {}
        if config.get("Mode") == "DISTRIBUTED":
            return str(config.get("ExecutionType", "STANDARD"))
    return "STANDARD"


def _child_history_saver(writer: RunFolderWriter) -> moto_patches.ChildFinished:
    """Save each distributed child's history as it ends: children/<label>_<index>.json
    (moto_patches gap 10), then forget its events."""

    def save(name: str, child: moto_patches.ChildExecution) -> None:
        writer.write_child_history(name, child.history())
        child.forget_events()
        child.saved = True

    return save


def _save_child_histories(run: PreparedRun) -> str | None:
    """The children's histories folder (relative), once every child's is saved; a child an
    interrupted run left running is saved as it stands."""
    saver = _child_history_saver(run.writer)
    saved_any = False
    for stats in run.active.map_runs.values():
        for child in stats.children:
            if not child.saved:
                saver(f"{stats.label}_{child.index}", child)
            saved_any = True
    if run.active.spool_dir is not None:
        shutil.rmtree(run.active.spool_dir, ignore_errors=True)
    return schema.CHILDREN if saved_any else None


def _function_meta(rt: FunctionRuntime, active: moto_patches.ActiveRun) -> FunctionMeta:
    limits = active.concurrency
    return {
        "memory_mb": rt.spec.memory_mb,
        "architecture": rt.spec.architecture,
        "timeout_s": rt.spec.timeout_s,
        "invocations": rt.stats.invocations,
        "errors": rt.stats.errors,
        "duration_ms_total": round(rt.stats.duration_ms_total, 3),
        "cpu_ms_total": round(rt.stats.cpu_ms_total, 3),
        "max_event_bytes": rt.stats.max_event_bytes,
        "max_result_bytes": rt.stats.max_result_bytes,
        "reserved_concurrency": rt.spec.reserved_concurrency,
        "throttles": limits.throttles_of(rt.arn) if limits else 0,
        "peak_concurrency": limits.peak_of(rt.arn) if limits else 0,
    }


def _distributed_meta(run: PreparedRun) -> DistributedMeta | None:
    active = run.active
    if not active.map_runs:
        return None
    children = [c for stats in active.map_runs.values() for c in stats.children]
    execution_type = _child_execution_type(run.definition)
    return {
        "child_executions": len(children),
        "child_executions_failed": sum(c.status in ("FAILED", "TIMED_OUT") for c in children),
        "child_executions_aborted": sum(c.status == "ABORTED" for c in children),
        "items_not_started": sum(s.not_started for s in active.map_runs.values()),
        "child_state_transitions": sum(s.state_transitions for s in active.map_runs.values()),
        "child_duration_ms_total": round(sum(c.duration_ms() for c in children), 3),
        "execution_type": "EXPRESS" if execution_type == "EXPRESS" else "STANDARD",
        "child_histories": _save_child_histories(run),
    }


def save_run(
    run: PreparedRun,
    described: Mapping[str, Any],
    events: list[dict[str, Any]],
    execution_input: Any,
) -> RunRecord:
    """Write the run folder of a finished execution (`described`: DescribeExecution's fields)."""
    options, active, writer = run.options, run.active, run.writer
    execution_arn = str(described["executionArn"])
    status = str(described["status"])
    output = json.loads(described["output"]) if described.get("output") else None
    writer.write_input(execution_input)
    writer.write_history(events)
    if output is not None and status == "SUCCEEDED":
        writer.write_output(output)
    outcome = run.hooks.save(writer, output, events)
    stop_date = described.get("stopDate") or datetime.datetime.now(tz=datetime.UTC)
    meta: RunMeta = {
        "run_id": run.run_id,
        "execution_arn": execution_arn,
        "state_machine_arn": described.get("stateMachineArn"),
        "status": status,
        "start_date": plain(described.get("startDate")),
        "stop_date": plain(stop_date),
        "error": described.get("error"),
        "cause": described.get("cause"),
        "mode": "distributed" if active.map_runs else "inline",
        "functions": {rt.display_name: _function_meta(rt, active) for rt in run.runtimes},
        "distributed": _distributed_meta(run),
        "source": "local",
        "s3_requests": {"get": active.s3_requests["get"], "put": active.s3_requests["put"]},
        "history_events": len(events),
        "largest_state_payload_bytes": _largest_state_payload(events),
        "state_payload_limit_bytes": STATE_PAYLOAD_LIMIT,
        "time_scale": options.time_scale,
        "account_concurrency": options.account_concurrency,
        "notes": run.notes,
    }
    full_meta: dict[str, Any] = {**meta, **outcome.meta}
    writer.write_meta(cast(RunMeta, full_meta))
    return RunRecord(
        run_id=run.run_id,
        run_dir=run.run_dir,
        status=status,
        execution_arn=execution_arn,
        input=execution_input,
        output=output,
        error=described.get("error"),
        cause=described.get("cause"),
        summary=outcome.summary,
        events=events,
        meta=full_meta,
    )
