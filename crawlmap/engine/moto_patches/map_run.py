"""A distributed Map Run's children, recorded as they run (moto keeps no record of them).

Checked against moto 5.2.5. Each item's job becomes a ChildExecution (children.py): its input
after the ItemSelector, its outcome, its events (gaps/child_histories.py). As a child ends it
counts against the Map Run's failure threshold (gaps/tolerated_failures.py) and is handed to
the run's `on_child_finished` (the engine saves its history then and forgets its events).
"""

from __future__ import annotations

import uuid
from typing import Any

from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
    distributed_iteration_component,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
    distributed_item_processor_worker,
)
from moto.stepfunctions.parser.asl.eval.program_state import (
    ProgramEnded,
    ProgramError,
    ProgramStopped,
    ProgramTimedOut,
)

from crawlmap.engine.moto_patches import active
from crawlmap.engine.moto_patches.active import ActiveRun, MapRunStats
from crawlmap.engine.moto_patches.children import ChildExecution, utc_now
from crawlmap.engine.moto_patches.gaps.tolerated_failures import (
    EXCEEDED_THRESHOLD_CAUSE,
    fail_map_run,
    threshold_of,
)


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


def _new_child(run: ActiveRun, stats: MapRunStats, job: Any) -> ChildExecution:
    spool = None
    if run.spool_dir is not None:
        run.spool_dir.mkdir(exist_ok=True)
        spool = run.spool_dir / f"{stats.label}_{job.job_index}.events.jsonl"
    return ChildExecution(
        index=job.job_index,
        name=str(uuid.uuid4()),
        start=utc_now(),
        input=job.job_input,
        spool=spool,
    )


def _child_ended(run: ActiveRun, stats: MapRunStats, child: ChildExecution) -> None:
    """Count the child against the threshold; stop the others when it is crossed."""
    with run.lock:
        stats.running.pop(child.index, None)
        stats.children.append(child)
        stats.state_transitions += child.state_transitions
        stats.failed += child.status in ("FAILED", "TIMED_OUT")
        crossed = (
            not stats.exceeded
            and stats.threshold is not None
            and stats.threshold.exceeded_by(stats.failed)
        )
        if crossed:
            stats.exceeded = True
        to_stop = list(stats.running.values()) if crossed else []
    # The children still running are stopped as the Map Run fails (ABORTED): each ends after
    # the state it is in (a Lambda invocation in flight finishes, as on AWS).
    for frame in to_stop:
        frame.set_stop(stop_date=utc_now(), cause=EXCEEDED_THRESHOLD_CAUSE, error=None)
    if run.on_child_finished is not None:
        run.on_child_finished(f"{stats.label}_{child.index}", child)


def _patch_worker() -> None:
    worker_cls = distributed_item_processor_worker.DistributedItemProcessorWorker
    original_eval_job = worker_cls._eval_job
    original_eval_input = worker_cls._eval_input

    def eval_job(self: Any, env: Any, job: Any) -> None:
        run = active.current()
        if run is None:
            original_eval_job(self, env, job)
            return
        stats = run.map_run(self._map_run_record.map_run_arn)
        with run.lock:
            if stats.exceeded:  # the Map Run is failing: no child starts any more (gap 3)
                stats.not_started += 1
                job.job_output = None
                return
            stats.running[job.job_index] = env
        child = _new_child(run, stats, job)
        active.job.child = child
        try:
            original_eval_job(self, env, job)
        finally:
            active.job.child = None
            child.stop = utc_now()
            _child_outcome(env, job, child)
            _child_ended(run, stats, child)

    def eval_input(self: Any, env_frame: Any) -> None:
        original_eval_input(self, env_frame)
        child = active.current_child()
        if child is not None:
            child.input = env_frame.states.get_input()  # after ItemSelector, as AWS reports it

    worker_cls._eval_job = eval_job
    worker_cls._eval_input = eval_input


def _patch_map_run() -> None:
    component_cls = distributed_iteration_component.DistributedIterationComponent
    original_map_run = component_cls._map_run

    def map_run(self: Any, env: Any, eval_input: Any) -> None:
        run = active.current()
        if run is None:
            original_map_run(self, env, eval_input)
            return
        stats = run.map_run(eval_input.map_run_record.map_run_arn)
        # env.stack[-1]: the items the ItemReader read
        stats.threshold = threshold_of(self, len(env.stack[-1]), eval_input)
        original_map_run(self, env, eval_input)
        # Events no child took (none are known) stay in the Map Run's list: count them too.
        leftovers = env.event_manager._history_event_list
        stats.state_transitions += sum(str(e["type"]).endswith("StateEntered") for e in leftovers)
        if stats.exceeded:
            fail_map_run(env)

    component_cls._map_run = map_run


def install() -> None:
    _patch_worker()
    _patch_map_run()
