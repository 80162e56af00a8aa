"""What `crawlmap serve` changes in moto 5.2.5's Step Functions backend (checked against it).

moto_patches/ (the engine's patches) makes the interpreter run crawlmap's definition as AWS
does; these make moto's *API* behave as Step Functions Local's does, and hand each execution
to the engine. Installed once per process; with no serve engine registered and no test case
chosen they change nothing.

1. Definitions as written: CreateStateMachine stores the definition it was given (EXPRESS
   children, an integer ToleratedFailurePercentage), so DescribeStateMachine returns it; the
   interpreter parses moto_patches.normalize_definition's rewrite, at creation (validation) and
   when an execution starts.
2. Test cases: StartExecution on `<stateMachineArn>#<TestCase>` runs the test case of the
   loaded MockConfigFile (mock_config.py) for that state machine's name, as Step Functions
   Local does; an unknown one is refused with the names it has. `crawlmap run --test-case`
   chooses one for the executions started inside `chosen_test_case`.
3. Executions go to the registered engine (`register_engine`): it runs the interpreter in the
   engine's session (in-process handlers, environment, run folder) instead of moto's thread.
   A name is generated when none is given (AWS gives a UUID); a name already used by a run
   folder is refused (ExecutionAlreadyExists), since the run folder is named after it.
4. GetExecutionHistory honours maxResults, nextToken and reverseOrder (moto returns every
   event in one page), so the AWS CLI's paginator and boto3's work as against AWS.
5. An execution reads as RUNNING until its run folder is written, so a client that sees it
   finish can read the folder (`crawlmap history`) at once.
6. StopExecution of an execution still waiting for the engine (executions run one at a time)
   aborts it before it starts; moto would fail on its missing environment.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from moto.core.responses import ActionResult
from moto.stepfunctions.exceptions import ExecutionAlreadyExists, ValidationException
from moto.stepfunctions.parser.api import ExecutionStatus
from moto.stepfunctions.parser.backend.execution import Execution
from moto.stepfunctions.parser.mocking.mock_config import MockTestCase
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.responses import StepFunctionResponse

from crawlmap.engine import moto_patches
from crawlmap.serve.mock_config import MockConfig, MockConfigError


class ExecutionEngine(Protocol):
    """Runs an execution moto's API has created (serve's executions.ServeEngine)."""

    def name_taken(self, name: str) -> bool: ...

    def start(self, execution: Execution) -> None: ...

    def saving(self, execution_arn: str) -> bool: ...


_lock = threading.Lock()
_installed = False
_engine: ExecutionEngine | None = None
_mock_config: MockConfig | None = None
_chosen: MockTestCase | None = None  # crawlmap run --test-case (one run at a time)
_starting = threading.local()  # the test case of the StartExecution being served


def register_engine(engine: ExecutionEngine | None, mock_config: MockConfig | None) -> None:
    """Send executions to `engine` (None: moto runs them itself) with `mock_config`'s cases."""
    global _engine, _mock_config
    _engine, _mock_config = engine, mock_config


@contextlib.contextmanager
def chosen_test_case(test_case: MockTestCase) -> Iterator[None]:
    """Executions started inside the block run `test_case` (crawlmap run --test-case)."""
    global _chosen
    install()
    _chosen = test_case
    try:
        yield
    finally:
        _chosen = None


def install() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        _patch_definition_validation()
        _patch_start_execution()
        _patch_execution_start()
        _patch_execution_stop()
        _patch_history_pages()
        _patch_status()
        _installed = True


def _normalized(definition: str) -> str:
    try:
        parsed = json.loads(definition)
    except (TypeError, ValueError):
        return definition  # moto's parser reports it
    if not isinstance(parsed, dict):
        return definition
    rewritten, notes = moto_patches.normalize_definition(parsed)
    return json.dumps(rewritten) if notes else definition


def _patch_definition_validation() -> None:
    original: Callable[[str], None] = StepFunctionsParserBackend._validate_definition

    def validate(definition: str) -> None:
        original(_normalized(definition))

    StepFunctionsParserBackend._validate_definition = staticmethod(validate)


def _test_case_for(state_machine_arn: str, test_case: str) -> MockTestCase:
    machine = state_machine_arn.rsplit(":", 1)[-1]
    if _mock_config is None:
        raise ValidationException(
            f"test case {test_case!r} asked for, but no MockConfigFile is loaded "
            "(crawlmap serve --mock-config FILE, or SFN_MOCK_CONFIG)"
        )
    try:
        return _mock_config.test_case(machine, test_case)
    except MockConfigError as exc:
        raise ValidationException(str(exc)) from None


def _patch_start_execution() -> None:
    original = StepFunctionsParserBackend.start_execution

    def start_execution(
        self: StepFunctionsParserBackend,
        state_machine_arn: str,
        name: str | None = None,
        execution_input: str | None = None,
        trace_header: str | None = None,
    ) -> Execution:
        arn, _, test_case = state_machine_arn.partition("#")
        name = name or str(uuid.uuid4())
        if _engine is not None and _engine.name_taken(name):
            machine = arn.rsplit(":", 1)[-1]
            raise ExecutionAlreadyExists(
                f"Execution Already Exists: '{name}' (a run folder of that name exists; "
                f"state machine {machine})"
            )
        _starting.test_case = _test_case_for(arn, test_case) if test_case else None
        try:
            return original(self, arn, name, execution_input, trace_header)
        finally:
            _starting.test_case = None

    StepFunctionsParserBackend.start_execution = start_execution


def _patch_execution_start() -> None:
    original = Execution.start

    def start(self: Execution) -> None:
        test_case = getattr(_starting, "test_case", None) or _chosen
        if _engine is None and test_case is None:
            original(self)
            return
        if self.exec_worker:
            original(self)  # moto's own error for a second start
            return
        worker = self._get_start_execution_worker()
        details = worker._evaluation_details.state_machine_details
        details.definition = _normalized(details.definition)
        worker._mock_test_case = test_case
        self.exec_worker = worker
        self.exec_status = ExecutionStatus.RUNNING
        if _engine is None:
            worker.start()
        else:
            _engine.start(self)

    Execution.start = start


def _patch_execution_stop() -> None:
    original = Execution.stop

    def stop(self: Execution, stop_date: datetime.datetime, error: Any, cause: Any) -> None:
        worker = self.exec_worker
        if (
            worker is not None
            and worker.env is None
            and self.exec_status == ExecutionStatus.RUNNING
        ):
            self.exec_status = ExecutionStatus.ABORTED  # not started yet: it never will
            self.stop_date = stop_date
            return
        original(self, stop_date, error, cause)

    Execution.stop = stop


def _patch_status() -> None:
    def status(self: Execution) -> str:
        if _engine is not None and _engine.saving(self.exec_arn):
            return ExecutionStatus.RUNNING.value
        return str(self.exec_status.value)

    Execution.status = property(status)


def _page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _page_offset(token: str) -> int:
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise ValidationException(f"Invalid Token: {token!r}") from None
    if not isinstance(offset, int) or offset < 0:
        raise ValidationException(f"Invalid Token: {token!r}")
    return offset


def _patch_history_pages() -> None:
    original = StepFunctionResponse.get_execution_history

    def get_execution_history(self: StepFunctionResponse) -> Any:
        result = original(self)
        history = result.result if isinstance(result, ActionResult) else None
        if not isinstance(history, dict) or "events" not in history:
            return result
        events = list(history["events"])
        if self._get_param("reverseOrder"):
            events.reverse()
        if self._get_param("includeExecutionData") is False:
            events = [_without_data(event) for event in events]
        max_results = self._get_int_param("maxResults") or 1000  # AWS's default page size
        token = self._get_param("nextToken")
        offset = _page_offset(token) if token else 0
        page: dict[str, Any] = {"events": events[offset : offset + max_results]}
        if offset + max_results < len(events):
            page["nextToken"] = _page_token(offset + max_results)
        return ActionResult(page)

    StepFunctionResponse.get_execution_history = get_execution_history


def _without_data(event: dict[str, Any]) -> dict[str, Any]:
    """An event without its input/output text, as includeExecutionData=false asks."""
    stripped: dict[str, Any] = {}
    for key, value in event.items():
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if k not in ("input", "output")}
        stripped[key] = value
    return stripped
