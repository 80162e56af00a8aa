"""Gap 10: a distributed Map's child executions have no history of their own.

Checked against moto 5.2.5: moto publishes every child's events into one list of the Map
Run's own event manager (which nothing reads back). The engine gives each event to the child
whose worker thread published it instead (ChildExecution.record, children.py: spooled to a
file while the child runs) and takes it out of that list, so no event is held twice or for
the whole run; as each child ends its history is saved, numbered from 1 between
ExecutionStarted and its end event as GetExecutionHistory gives a STANDARD child's, in the
run folder's children/ (the report draws every batch from them).

A child's states run in threads moto starts (a program, an inline Map's iterations, a
Parallel's branches, each state's execution): `_ChildThread` carries the child over to them.
"""

from __future__ import annotations

import threading
import types
from typing import Any

from moto.stepfunctions.parser.asl.component.program import program as program_module
from moto.stepfunctions.parser.asl.component.state.exec import execute_state
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
    inline_iteration_component,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import branch_worker
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager

from crawlmap.engine.moto_patches import active


class _ChildThread(threading.Thread):
    """A thread of moto's interpreter that knows the distributed child it works for."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._child = active.current_child()

    def run(self) -> None:
        active.job.child = self._child
        super().run()


def install() -> None:
    child_aware = types.SimpleNamespace(**{**vars(threading), "Thread": _ChildThread})
    for module in (program_module, inline_iteration_component, branch_worker, execute_state):
        module.threading = child_aware
    execute_state.Thread = _ChildThread
    original = EventManager._publish_history_event

    def publish(self: Any, **kwargs: Any) -> None:
        original(self, **kwargs)
        child = active.current_child()
        if child is not None and active.current() is not None:
            # Under the event manager's lock (add_event holds it): the event just appended.
            child.record(self._history_event_list.pop())

    EventManager._publish_history_event = publish
