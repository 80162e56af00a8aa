"""Run the executions moto's API starts through the local engine, and save each as a run folder.

moto creates the execution (its ARN, input, status) when StartExecution arrives; the engine
then runs its interpreter in the same session `crawlmap run` uses (engine.runner: in-process
handlers, the functions' environment, the SQLite store, moto_patches), one execution at a time
(the engine's hooks are process-wide), and writes `<home>/runs/<execution name>/` with the
same files, so `crawlmap history`, `report` and `cost` read it. An execution started while
another runs waits (status RUNNING, no events yet).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import threading
from collections.abc import Callable

from moto.stepfunctions.parser.api import ExecutionStatus
from moto.stepfunctions.parser.backend.execution import Execution

from crawlmap.engine import moto_patches
from crawlmap.engine.runner import (
    EngineOptions,
    RunRecord,
    engine_session,
    prepare_run,
    save_run,
)
from crawlmap.runfolder import plain, write_json


class ServeEngine:
    """Runs each execution it is given in a thread of its own, one at a time (the engine's
    session lock), and reports each finished run to `on_finished`."""

    def __init__(
        self,
        options: EngineOptions,
        on_finished: Callable[[RunRecord], None] | None = None,
    ) -> None:
        self.options = options
        self.on_finished = on_finished
        self.finished: list[RunRecord] = []
        self._lock = threading.Lock()
        self._names: set[str] = set()
        self._saving: set[str] = set()  # started, run folder not written yet
        self._threads: list[threading.Thread] = []

    def name_taken(self, name: str) -> bool:
        with self._lock:
            return name in self._names or (self.options.home / "runs" / name).exists()

    def saving(self, execution_arn: str) -> bool:
        return execution_arn in self._saving

    def start(self, execution: Execution) -> None:
        with self._lock:
            self._names.add(execution.name)
            self._saving.add(execution.exec_arn)
        thread = threading.Thread(
            target=self._run, args=(execution,), name=f"execution {execution.name}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for every execution started so far (tests, shutdown)."""
        for thread in list(self._threads):
            thread.join(timeout)

    def _run(self, execution: Execution) -> None:
        try:
            self._run_and_save(execution)
        finally:
            with self._lock:
                self._saving.discard(execution.exec_arn)

    def _run_and_save(self, execution: Execution) -> None:
        worker = execution.exec_worker
        assert worker is not None
        run = prepare_run(dataclasses.replace(self.options, run_id=execution.name))
        with engine_session(run):
            if execution.exec_status == ExecutionStatus.RUNNING:  # not stopped while waiting
                moto_patches.activate(run.active)
                try:
                    worker._execution_logic()
                except Exception as exc:  # the interpreter itself failed: say so, as AWS would
                    execution.exec_status = ExecutionStatus.FAILED
                    execution.error, execution.cause = "States.Runtime", f"{exc!r}"
                finally:
                    moto_patches.activate(None)
                    run.hooks.finished()
        described = plain(execution.to_describe_output())
        events = plain(execution.to_history_output()["events"])
        record = save_run(run, described, events, json.loads(described.get("input") or "null"))
        try:
            definition = json.loads(execution.state_machine.definition)
        except (TypeError, ValueError):
            definition = None
        if isinstance(definition, dict):  # the report draws the graph from it, as for AWS runs
            write_json(run.run_dir / "definition.json", definition)
        self.finished.append(record)
        if self.on_finished is not None:
            try:
                self.on_finished(record)
            except Exception as exc:  # a reporting problem must not lose the run
                print(f"crawlmap serve: {exc!r}", file=sys.stderr)
