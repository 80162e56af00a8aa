"""Speed 7h (memory): moto keeps every thread its interpreter ever started.

Checked against moto 5.2.5: an execution, a program, each state's execution (execute_state:
one a state), an inline Map iteration, a Parallel branch and a callback wait each append their
thread to moto.stepfunctions.parser.utils.TMP_THREADS, a module-level list that nothing reads
or clears (LocalStack's, for its shutdown). A distributed run starts several threads a batch,
so the list grew with the run (about 1.5 KB a dead thread). The engine gives every module that
imported the list (MODULES) one that drops the threads that have ended whenever it grows past
LIVE_THREADS_CHECKED, so only live ones stay.
"""

from __future__ import annotations

import threading

from moto.stepfunctions.parser import utils as parser_utils
from moto.stepfunctions.parser.asl.component.program import program
from moto.stepfunctions.parser.asl.component.state.exec import execute_state
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
    inline_iteration_component,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import branch_worker
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_callback,
)
from moto.stepfunctions.parser.asl.component.test_state.program import test_state_program
from moto.stepfunctions.parser.backend import execution_worker

LIVE_THREADS_CHECKED = 256  # the list is pruned when it reaches this, or twice what it kept


class LiveThreads(list[threading.Thread]):
    """TMP_THREADS that forgets the threads which have ended (moto appends before start())."""

    def __init__(self, threads: list[threading.Thread]) -> None:
        super().__init__(threads)
        self._prune_at = LIVE_THREADS_CHECKED

    def append(self, thread: threading.Thread) -> None:
        if len(self) >= self._prune_at:
            self[:] = [known for known in self if known.is_alive() or known.ident is None]
            self._prune_at = max(LIVE_THREADS_CHECKED, 2 * len(self))
        super().append(thread)


# Every module of moto 5.2.5 that binds TMP_THREADS (`from ...utils import TMP_THREADS`).
MODULES = (
    parser_utils,
    execution_worker,
    program,
    execute_state,
    inline_iteration_component,
    branch_worker,
    state_task_service_callback,
    test_state_program,
)


def install() -> None:
    live = LiveThreads(parser_utils.TMP_THREADS)
    for module in MODULES:
        module.TMP_THREADS = live
