"""Test a state machine's paths from pytest: run a MockConfigFile test case, get its history.

    from crawlmap.serve.testing import run_test_case

    def test_a_transient_failure_is_retried(tmp_path):
        run = run_test_case("TransientFailureRetried", {"pages": ["http://127.0.0.1:9/page"]},
                            mock_config="tests/mocks/MockConfigFile.json", home=tmp_path)
        assert run.status == "SUCCEEDED"
        assert run.task_events("CrawlBatch") == [
            "TaskScheduled", "TaskStarted", "TaskFailed",
            "TaskScheduled", "TaskStarted", "TaskSucceeded"]

The test case runs on the synthesized state machine through the local engine, as
`crawlmap run --mock-config FILE --test-case NAME` does: mocked states answer from the file,
the others run their real handlers. For a live endpoint instead (the AWS CLI, boto3, another
language's SDK), `serving()` starts `crawlmap serve`'s server in this process.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crawlmap.crawl_hooks import CrawlHooks
from crawlmap.engine.runner import EngineOptions, RunRecord, run_execution
from crawlmap.serve import moto_hooks
from crawlmap.serve.mock_config import MockConfig, load_mock_config
from crawlmap.serve.server import ServeOptions, StepFunctionsServer, stack_name

FAST_RETRIES = 0.05  # --fast-retries: Retry waits scaled down 20x


def entered_states(events: Sequence[Mapping[str, Any]]) -> list[str]:
    """The names of the states the execution entered, in order (Map iterations included)."""
    return [
        str(event["stateEnteredEventDetails"]["name"])
        for event in events
        if "stateEnteredEventDetails" in event
    ]


def task_events(events: Sequence[Mapping[str, Any]], state: str) -> list[str]:
    """The Task* event types of every visit to Task state `state`, in order."""
    inside: set[int] = set()
    found: list[str] = []
    by_id = {int(event["id"]): event for event in events}
    for event in events:
        details = event.get("stateEnteredEventDetails")
        if details and details.get("name") == state:
            inside.add(int(event["id"]))
            continue
        kind = str(event["type"])
        if kind.startswith("Task") and not kind.endswith(("StateEntered", "StateExited")):
            parent = by_id.get(int(event.get("previousEventId", 0)))
            # Follow previousEventId back to the state this task event belongs to.
            while parent is not None and "stateEnteredEventDetails" not in parent:
                parent = by_id.get(int(parent.get("previousEventId", 0)))
            if parent is not None and int(parent["id"]) in inside:
                found.append(kind)
    return found


@dataclass(frozen=True)
class TestCaseRun:
    """A finished execution of a test case: its outcome, its history and its run folder."""

    status: str  # SUCCEEDED | FAILED | TIMED_OUT | ABORTED
    error: str | None
    cause: str | None
    output: Any
    events: list[dict[str, Any]]  # GetExecutionHistory's events
    record: RunRecord  # the run as `crawlmap run` returns it (results, meta, run_dir)

    __test__ = False  # not a test class, whatever pytest thinks of its name

    def entered_states(self) -> list[str]:
        return entered_states(self.events)

    def task_events(self, state: str) -> list[str]:
        return task_events(self.events, state)


def run_test_case(
    test_case: str,
    execution_input: Mapping[str, Any],
    *,
    mock_config: str | Path | MockConfig,
    state_machine: str | None = None,
    home: str | Path | None = None,
    template: Mapping[str, Any] | None = None,
    fast_retries: bool = True,
    env_overrides: Mapping[str, str] | None = None,
) -> TestCaseRun:
    """Run `test_case` of `mock_config` (a MockConfigFile path, or one already loaded) for
    `state_machine` (default: the stack's name, as `crawlmap serve` names it) on
    `execution_input`. `home` holds the run folder and the SQLite store (default: a new
    temporary directory); `template` a synthesized template (default: synthesized, cached)."""
    config = mock_config if isinstance(mock_config, MockConfig) else load_mock_config(mock_config)
    case = config.test_case(state_machine or stack_name(), test_case)
    options = EngineOptions(
        home=Path(home) if home is not None else Path(tempfile.mkdtemp(prefix="crawlmap-")),
        template=template,
        hooks=CrawlHooks(),
        time_scale=FAST_RETRIES if fast_retries else 1.0,
        env_overrides=dict(env_overrides or {}),
    )
    with moto_hooks.chosen_test_case(case):
        record = run_execution(execution_input, options)
    return TestCaseRun(
        status=record.status,
        error=record.error,
        cause=record.cause,
        output=record.output,
        events=record.events,
        record=record,
    )


@contextlib.contextmanager
def serving(
    *,
    template: Mapping[str, Any],
    home: str | Path,
    mock_config: str | Path | MockConfig | None = None,
    fast_retries: bool = True,
    lambda_port: int | None = None,
    env_overrides: Mapping[str, str] | None = None,
) -> Iterator[StepFunctionsServer]:
    """`crawlmap serve` in this process on a free loopback port: `server.endpoint`,
    `server.state_machine_arn`, `server.lambda_endpoint` (with `lambda_port`, 0 for any).
    moto's mock is active inside the block (do not mix it with run_test_case there)."""
    if mock_config is not None and not isinstance(mock_config, MockConfig):
        mock_config = load_mock_config(mock_config)
    options = ServeOptions(
        engine=EngineOptions(
            home=Path(home),
            template=template,
            hooks=CrawlHooks(),
            time_scale=FAST_RETRIES if fast_retries else 1.0,
            env_overrides=dict(env_overrides or {}),
        ),
        port=0,
        lambda_port=lambda_port,
        mock_config=mock_config,
    )
    with StepFunctionsServer(options) as server:
        yield server


def wait_for_execution(sfn: Any, execution_arn: str, timeout_s: float = 60.0) -> dict[str, Any]:
    """DescribeExecution until the execution is no longer RUNNING (boto3 stepfunctions client)."""
    deadline = time.monotonic() + timeout_s
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            return described
        time.sleep(0.1)
