"""Gap 5: the context object's times in Python's form instead of AWS's.

Checked against moto 5.2.5: $$.Execution.StartTime and $$.State.EnteredTime are rendered as
Python prints a datetime ("2026-11-26T19:36:23.913874+00:00"); AWS gives milliseconds and "Z"
("2026-11-26T19:36:23.913Z"). The engine sets the AWS form.
"""

from __future__ import annotations

import datetime
from typing import Any

from moto.stepfunctions.parser.asl.component.state import state as state_module
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

from crawlmap.runfolder.jsonio import iso_time


def _patch_start_time() -> None:
    original = ExecutionWorker._get_evaluation_environment

    def evaluation_environment(self: Any) -> Any:
        env = original(self)
        execution = env.states.context_object.context_object_data["Execution"]
        start = execution.get("StartTime")
        if isinstance(start, datetime.datetime):
            execution["StartTime"] = iso_time(start)
        return env

    ExecutionWorker._get_evaluation_environment = evaluation_environment


def _patch_entered_time() -> None:
    original = state_module.StateData

    def state_data(**fields: Any) -> Any:
        entered = fields.get("EnteredTime")
        if isinstance(entered, str):
            fields["EnteredTime"] = iso_time(datetime.datetime.fromisoformat(entered))
        return original(**fields)

    state_module.StateData = state_data


def install() -> None:
    _patch_start_time()
    _patch_entered_time()
