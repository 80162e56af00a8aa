"""Run the template's Lambda functions in-process, as Lambda would, for moto's interpreter.

Each function's handler is imported once per run (a "container": the handlers' packages,
`lambdas.*` for crawlmap, are imported fresh for the run and the process's own copies are put
back afterwards, so module state such as cached settings never leaks from one run into the
next) and kept warm for every
invocation of the run. The response has the shape of Lambda's Invoke: `{"StatusCode": 200,
"Payload": <parsed JSON>}`, or for a raised exception `"FunctionError": "Unhandled"` with
`{"errorType": <class name>, "errorMessage": ...}`, which is what Retry and Catch match.
"""

from __future__ import annotations

import importlib
import json
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from crawlmap.engine.cpu import CpuMeter
from crawlmap.engine.errors import EngineError
from crawlmap.engine.isolation.environment import invocation_environment, process_variables
from crawlmap.engine.isolation.log_keys import invocation_log_keys
from crawlmap.engine.template import FunctionSpec

Handler = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class Invocation:
    """One finished invocation, as the progress callback and the run record see it."""

    function: str  # the state's name, e.g. "CrawlBatch"
    event: Any
    result: Any  # the handler's return value (None when it raised)
    error_type: str | None
    error_message: str | None
    duration_ms: float
    will_retry: bool = False  # the state's Retry will try this event again (set by the runner)
    cpu_ms: float | None = None  # CPU time it used (crawlmap/engine/cpu.py): not the load's


@dataclass
class FunctionStats:
    invocations: int = 0
    errors: int = 0
    duration_ms_total: float = 0.0
    cpu_ms_total: float = 0.0
    max_event_bytes: int = 0
    max_result_bytes: int = 0


class LambdaContext:
    """The attributes of the Lambda context object handlers (and Powertools) use."""

    def __init__(self, runtime: FunctionRuntime) -> None:
        self.function_name = runtime.local_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = runtime.arn
        self.memory_limit_in_mb = runtime.spec.memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{runtime.local_name}"
        self.log_stream_name = f"local/{self.aws_request_id}"
        self._deadline = time.monotonic() + runtime.spec.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class FunctionRuntime:
    spec: FunctionSpec
    display_name: str  # the state that calls it, as the console shows it
    local_name: str
    arn: str
    environment: Mapping[str, str] = field(default_factory=dict)  # its own (resources.py)
    handler: Handler | None = None
    stats: FunctionStats = field(default_factory=FunctionStats)

    def invocation_environment(self, context: LambdaContext) -> dict[str, str]:
        """os.environ as this invocation sees it: what any process has (PATH, the mock's
        credentials), then the function's own variables, as on Lambda."""
        return {
            **process_variables(),
            **self.environment,
            "AWS_LAMBDA_LOG_STREAM_NAME": context.log_stream_name,
        }

    def warm(self) -> None:
        module_name, _, attr = self.spec.handler.rpartition(".")
        try:
            module = importlib.import_module(module_name)
            handler = getattr(module, attr)
        except (ImportError, AttributeError) as exc:
            raise EngineError(
                f"{self.display_name}: cannot load handler {self.spec.handler!r} ({exc})"
            ) from None
        self.handler = handler


@contextmanager
def fresh_container(packages: tuple[str, ...]) -> Iterator[None]:
    """Import `packages` afresh inside the block and restore the process's copies after it."""

    def ours(name: str) -> bool:
        return name.split(".", 1)[0] in packages

    saved = {name: mod for name, mod in sys.modules.items() if ours(name)}
    for name in saved:
        del sys.modules[name]
    try:
        yield
    finally:
        container = [name for name in sys.modules if ours(name)]
        for name in container:
            # What a module keeps warm across invocations (an event loop, connection pools)
            # ends with its container, as when Lambda retires one.
            release = getattr(sys.modules[name], "release_warm_resources", None)
            if callable(release):
                release()
        for name in container:
            del sys.modules[name]
        sys.modules.update(saved)


class LambdaAdapter:
    """Answers moto's Lambda invocations with the in-process handlers."""

    def __init__(
        self,
        runtimes: list[FunctionRuntime],
        on_invocation: Callable[[Invocation], None] | None = None,
    ) -> None:
        self.runtimes = runtimes
        self._by_name: dict[str, FunctionRuntime] = {}
        for rt in runtimes:
            self._by_name[rt.arn] = rt
            self._by_name[rt.local_name] = rt
        self._on_invocation = on_invocation
        self._lock = threading.Lock()
        self._cpu = CpuMeter()

    def warm(self) -> None:
        for rt in self.runtimes:
            rt.warm()

    def stats(self) -> Mapping[str, FunctionRuntime]:
        return {rt.display_name: rt for rt in self.runtimes}

    def _find(self, function_name: str) -> FunctionRuntime:
        name = function_name
        if name.startswith("arn:") and name.count(":") == 7:  # arn with a version/alias qualifier
            name = name.rsplit(":", 1)[0]
        runtime = self._by_name.get(name)
        if runtime is None:
            raise EngineError(f"the state machine invokes an unknown function {function_name!r}")
        return runtime

    def invoke(self, parameters: dict[str, Any]) -> dict[str, Any]:
        runtime = self._find(str(parameters.get("FunctionName", "")))
        raw = parameters.get("Payload")
        event_bytes = len(raw) if isinstance(raw, bytes | bytearray) else len(str(raw or ""))
        if isinstance(raw, bytes | bytearray):
            raw = raw.decode()
        event = json.loads(raw) if isinstance(raw, str) and raw else raw
        if runtime.handler is None:
            runtime.warm()
        assert runtime.handler is not None
        context = LambdaContext(runtime)
        result: Any = None
        result_text = ""
        error_type: str | None = None
        error_message: str | None = None
        trace: list[str] = []
        # Its own environment and log keys, as if it had the process to itself (isolation/).
        with invocation_environment(runtime.invocation_environment(context)), invocation_log_keys():
            started = time.perf_counter()
            try:
                # Serialized as Lambda does (this also copies it: nothing shared with the handler).
                with self._cpu.measure() as cpu:
                    returned = runtime.handler(event, context)
                result_text = json.dumps(returned, separators=(",", ":"))
                result = json.loads(result_text)
            except TypeError as exc:
                error_type = "Runtime.MarshalError"
                error_message = f"Unable to marshal response: {exc}"
            except Exception as exc:  # Lambda reports any exception the handler raises
                error_type, error_message = type(exc).__name__, str(exc)
                # As Lambda's Python runtime reports it: the handler's frames, not the engine's.
                trace = traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:])
            duration_ms = (time.perf_counter() - started) * 1000
        timed_out = duration_ms > runtime.spec.timeout_s * 1000
        if timed_out:
            # Lambda would have stopped it at its timeout (before it returned or raised), and
            # words it so (AWS-recorded Invoke payload, 2025; no requestId or stackTrace keys).
            error_type = "Sandbox.Timedout"
            error_message = (
                f"RequestId: {context.aws_request_id} Error: Task timed out after "
                f"{runtime.spec.timeout_s:.2f} seconds"
            )
            result, trace = None, []
        with self._lock:
            stats = runtime.stats
            stats.invocations += 1
            stats.duration_ms_total += duration_ms
            stats.cpu_ms_total += cpu.ms
            stats.errors += error_type is not None
            stats.max_event_bytes = max(stats.max_event_bytes, event_bytes)
            if result is not None:
                stats.max_result_bytes = max(stats.max_result_bytes, len(result_text.encode()))
        if self._on_invocation is not None:
            self._on_invocation(
                Invocation(
                    runtime.display_name,
                    event,
                    result,
                    error_type,
                    error_message,
                    duration_ms,
                    cpu_ms=cpu.ms,
                )
            )
        if error_type is not None:
            payload: dict[str, Any] = {"errorType": error_type, "errorMessage": error_message}
            if not timed_out:
                payload.update(requestId=context.aws_request_id, stackTrace=trace)
            return {
                "StatusCode": 200,
                "FunctionError": "Unhandled",
                "ExecutedVersion": "$LATEST",
                "Payload": payload,
            }
        return {"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": result}
