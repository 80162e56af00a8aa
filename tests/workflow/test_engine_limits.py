"""The AWS limits the local engine enforces: Lambda concurrency (throttling) and the
distributed Map's tolerated failure threshold.

moto stands in for Step Functions and S3; the handlers are tiny ones (limit_handlers.py,
tiny_handlers.py) or, where said, the real crawlmap template and handlers against the demo
site on 127.0.0.1.
"""

from __future__ import annotations

import copy
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from crawlmap.crawl_hooks import CrawlHooks
from crawlmap.demo import DemoSite
from crawlmap.engine.errors import EngineError
from crawlmap.engine.runner import EngineOptions, RunRecord, run_execution
from lambdas.common import env
from lambdas.common.retries import LAMBDA_SERVICE_ERRORS
from tests.workflow.templates import template_with
from tests.workflow.test_moto_gaps import HANDLERS, distributed_definition, items

THROTTLED = "Lambda.TooManyRequestsException"


def reserve(template: dict[str, Any], logical_id: str, reserved: int) -> dict[str, Any]:
    """The template with `logical_id`'s ReservedConcurrentExecutions set (what
    `-c crawlmap.functions.<name>.reserved_concurrency=N` synthesizes)."""
    changed = copy.deepcopy(template)
    changed["Resources"][logical_id]["Properties"]["ReservedConcurrentExecutions"] = reserved
    return changed


def fan_definition(retry: bool = True) -> dict[str, Any]:
    work: dict[str, Any] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "<fn:Work>", "Payload.$": "$"},
        "ResultSelector": {"n.$": "$.Payload.n"},
        "End": True,
    }
    if retry:
        work["Retry"] = [
            {"ErrorEquals": [THROTTLED], "IntervalSeconds": 1, "BackoffRate": 2, "MaxAttempts": 10}
        ]
    return {
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Map",
                "MaxConcurrency": 4,
                "ItemsPath": "$.items",
                "ItemProcessor": {"StartAt": "Work", "States": {"Work": work}},
                "End": True,
            }
        },
    }


def run_fan(tmp_path: Path, template: dict[str, Any], **options: Any) -> RunRecord:
    return run_execution(
        {"items": [{"n": i} for i in range(4)]},
        EngineOptions(home=tmp_path / "home", template=template, time_scale=0.01, **options),
    )


def task_errors(record: RunRecord) -> list[tuple[str, str]]:
    return [
        (e["taskFailedEventDetails"]["error"], e["taskFailedEventDetails"]["cause"])
        for e in record.events
        if e["type"] == "TaskFailed"
    ]


HOLD = {"Work": "tests.workflow.limit_handlers.hold_until_throttled"}


def test_reserved_concurrency_throttles_as_lambda_and_retry_recovers(tmp_path: Path) -> None:
    record = run_fan(tmp_path, reserve(template_with(fan_definition(), HOLD), "Work", 1))

    assert record.status == "SUCCEEDED"
    assert record.output == [{"n": 0}, {"n": 1}, {"n": 2}, {"n": 3}]
    errors = task_errors(record)
    assert errors, "three of four invocations found the one slot taken"
    for error, cause in errors:
        assert error == THROTTLED
        # As Step Functions words a Lambda service error (moto formats the 429 the same way).
        assert cause.startswith(
            "Rate Exceeded. (Service: AWSLambda; Status Code: 429; "
            "Error Code: TooManyRequestsException; Request ID: "
        )
        assert cause.endswith("; Proxy: null)")
    work = record.meta["functions"]["Work"]
    assert work["reserved_concurrency"] == 1
    assert work["peak_concurrency"] == 1
    assert work["throttles"] == len(errors)
    assert work["invocations"] == 4, "a throttled invocation never reaches the handler"


def test_without_a_retry_the_throttled_task_fails_with_lambdas_error(tmp_path: Path) -> None:
    template = reserve(template_with(fan_definition(retry=False), HOLD), "Work", 1)
    record = run_fan(tmp_path, template)

    assert record.status == "FAILED"
    assert record.error == THROTTLED
    assert "Error Code: TooManyRequestsException" in (record.cause or "")


def test_the_account_limit_throttles_unreserved_functions(tmp_path: Path) -> None:
    record = run_fan(tmp_path, template_with(fan_definition(), HOLD), account_concurrency=2)

    assert record.status == "SUCCEEDED"
    assert {error for error, _ in task_errors(record)} == {THROTTLED}
    assert record.meta["functions"]["Work"]["peak_concurrency"] == 2
    assert record.meta["account_concurrency"] == 2


def test_reserved_concurrency_zero_never_runs_the_function(tmp_path: Path) -> None:
    template = reserve(template_with(fan_definition(retry=False), HOLD), "Work", 0)
    record = run_fan(tmp_path, template)

    assert record.status == "FAILED"
    assert record.error == THROTTLED
    assert record.meta["functions"]["Work"]["invocations"] == 0


def test_reserving_more_than_the_account_has_is_refused(tmp_path: Path) -> None:
    template = reserve(template_with(fan_definition(), HOLD), "Work", 3)
    with pytest.raises(EngineError, match=r"reserve 3 concurrent executions.*\(2\)"):
        run_fan(tmp_path, template, account_concurrency=2)


def crawl_batch_id(template: dict[str, Any]) -> str:
    (logical_id,) = [
        lid
        for lid, res in template["Resources"].items()
        if res.get("Properties", {}).get("Handler") == "lambdas.crawl_batch.handler.handler"
    ]
    return logical_id


@pytest.mark.parametrize("mode", ["inline", "distributed"])
def test_crawl_batch_reserved_below_the_map_concurrency_is_throttled_and_retried(
    template: dict[str, Any], site: DemoSite, tmp_path: Path, mode: str
) -> None:
    """The real template with crawl_batch reserved_concurrency=2 under a Map of 10 lanes:
    CrawlBatch's Retry on Lambda.TooManyRequestsException (CRAWL_BATCH_RETRY) absorbs the
    throttling and every page is crawled. Real retry waits (time_scale 1): the throttled
    batches retry over seconds, while a batch of two local pages takes milliseconds."""
    assert THROTTLED in LAMBDA_SERVICE_ERRORS
    pages = [site.url(f"/echo/throttled-{mode}-{i}") for i in range(20)]
    payload: dict[str, Any] = {"pages": pages, "batch_size": 2}
    if mode == "distributed":
        payload["distributed_threshold"] = 5
    record = run_execution(
        payload,
        EngineOptions(
            home=tmp_path / "home",
            template=reserve(template, crawl_batch_id(template), 2),
            hooks=CrawlHooks(),
            time_scale=1.0,
            env_overrides={env.ALLOW_PRIVATE_NETWORKS: "true", env.PER_HOST_CONCURRENCY: "10"},
        ),
    )

    assert record.meta["mode"] == mode
    assert record.status == "SUCCEEDED"
    lines = (record.run_dir / "results.jsonl").read_text().splitlines()
    saved = [json.loads(line) for line in lines]
    assert sorted(r["url"] for r in saved) == sorted(pages)
    assert all(r["ok"] for r in saved)
    crawl_batch = record.meta["functions"]["CrawlBatch"]
    assert crawl_batch["reserved_concurrency"] == 2
    assert crawl_batch["peak_concurrency"] == 2
    assert crawl_batch["throttles"] > 0
    if mode == "inline":  # distributed children's events are in their own histories
        throttled = [error for error, _ in task_errors(record) if error == THROTTLED]
        assert len(throttled) == crawl_batch["throttles"]
        retry_counts = [
            json.loads(e["taskScheduledEventDetails"]["parameters"])["Payload"].get("retry_count")
            for e in record.events
            if e["type"] == "TaskScheduled"
        ]
        assert any(n and n > 0 for n in retry_counts), "the Retry scheduled them again"


# ---------------------------------------------------------------- tolerated failure threshold

EXCEEDED = "States.ExceedToleratedFailureThreshold"
EXCEEDED_CAUSE = "The specified tolerated failure threshold was exceeded"


def run_fan_out(
    tmp_path: Path,
    definition: dict[str, Any],
    payload: dict[str, Any],
    handlers: dict[str, str] = HANDLERS,
) -> RunRecord:
    return run_execution(
        {**payload, "prefix": "results"},
        EngineOptions(
            home=tmp_path / "home", template=template_with(definition, handlers), time_scale=0.01
        ),
    )


def tolerance(
    max_concurrency: int, count: int | None = None, percentage: float | None = None
) -> dict[str, Any]:
    definition = distributed_definition(execution_type="STANDARD")
    fan = definition["States"]["Fan"]
    del fan["ToleratedFailurePercentage"]
    fan["MaxConcurrency"] = max_concurrency
    if count is not None:
        fan["ToleratedFailureCount"] = count
    if percentage is not None:
        fan["ToleratedFailurePercentage"] = percentage
    return definition


def map_run_failed(record: RunRecord) -> dict[str, Any]:
    (event,) = [e for e in record.events if e["type"] == "MapRunFailed"]
    details: dict[str, Any] = event["mapRunFailedEventDetails"]
    return details


def test_the_map_run_fails_as_soon_as_the_count_is_exceeded(tmp_path: Path) -> None:
    """One child at a time, 10 items, ToleratedFailureCount 1: the second failure (item 1)
    fails the Map Run; items 2..9 never start (moto, and the engine before, ran all ten)."""
    record = run_fan_out(tmp_path, tolerance(1, count=1), {"items": items(10, {0, 1})})

    assert record.status == "FAILED"
    assert record.error == EXCEEDED
    assert record.cause == EXCEEDED_CAUSE
    assert map_run_failed(record) == {"error": EXCEEDED, "cause": EXCEEDED_CAUSE}
    assert record.meta["functions"]["Child"]["invocations"] == 2
    distributed = record.meta["distributed"]
    assert distributed["child_executions"] == 2
    assert distributed["child_executions_failed"] == 2
    assert distributed["items_not_started"] == 8
    assert "ReadResults" not in [
        e["stateEnteredEventDetails"]["name"] for e in record.events if "stateEntered" in str(e)
    ]


def test_with_both_thresholds_either_one_fails_the_map_run(tmp_path: Path) -> None:
    """2 of 10 failed: within the count (5), over the percentage (10%): AWS fails the run."""
    record = run_fan_out(
        tmp_path, tolerance(1, count=5, percentage=10), {"items": items(10, {0, 1})}
    )

    assert record.status == "FAILED"
    assert record.error == EXCEEDED
    assert record.meta["distributed"]["child_executions"] == 2


def test_within_the_threshold_every_item_runs(tmp_path: Path) -> None:
    record = run_fan_out(tmp_path, tolerance(2, percentage=20), {"items": items(10, {0, 1})})

    assert record.status == "SUCCEEDED"
    assert record.meta["distributed"]["child_executions"] == 10
    assert record.meta["distributed"]["items_not_started"] == 0


def test_without_a_threshold_one_failed_child_fails_the_map_run(tmp_path: Path) -> None:
    record = run_fan_out(tmp_path, tolerance(1), {"items": items(5, {2})})

    assert record.status == "FAILED"
    assert record.error == EXCEEDED
    assert record.meta["distributed"]["child_executions"] == 3


def test_children_running_when_the_threshold_is_crossed_are_aborted(tmp_path: Path) -> None:
    """Three children at once; item 0 fails while 1 and 2 are in their first state: they
    finish that state (the Lambda invocation in flight), then stop: their second state never
    runs, and the Map Run fails."""
    definition = tolerance(3)
    processor = definition["States"]["Fan"]["ItemProcessor"]
    processor["States"] = {
        "First": {"Type": "Task", "Resource": "<fn:Child>", "Next": "Second"},
        "Second": {"Type": "Task", "Resource": "<fn:Second>", "End": True},
    }
    processor["StartAt"] = "First"
    definition["States"]["Fan"]["ItemSelector"] = {
        "n.$": "$$.Map.Item.Value.n",
        "fail.$": "$$.Map.Item.Value.fail",
        "running": 3,
    }
    handlers = {
        **HANDLERS,
        "Child": "tests.workflow.limit_handlers.fail_with_siblings_running",
        "Second": "tests.workflow.tiny_handlers.echo",
    }
    record = run_fan_out(tmp_path, definition, {"items": items(6, {0})}, handlers)

    assert record.status == "FAILED"
    assert record.error == EXCEEDED
    assert record.meta["functions"]["First"]["invocations"] == 3
    assert record.meta["functions"]["Second"]["invocations"] == 0
    distributed = record.meta["distributed"]
    assert distributed["child_executions"] == 3
    assert distributed["child_executions_failed"] == 1
    assert distributed["child_executions_aborted"] == 2
    assert distributed["items_not_started"] == 3


def uncaught_crawl_batch_failures(template: dict[str, Any]) -> dict[str, Any]:
    """The template with CrawlBatchDistributed's Catch narrowed to an error nothing raises:
    a batch that fails after its retries fails its child execution (its lane)."""
    changed = copy.deepcopy(template)
    catch = '"ErrorEquals":["States.ALL"],"ResultPath":"$.error","Next":"RecordFailureDistributed"'
    narrowed = catch.replace("States.ALL", "crawlmap.test.NeverRaised")
    machine = next(
        r for r in changed["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"
    )
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    found = [i for i, part in enumerate(parts) if isinstance(part, str) and catch in part]
    assert len(found) == 1, "the definition's CrawlBatchDistributed Catch changed shape"
    parts[found[0]] = parts[found[0]].replace(catch, narrowed)
    return changed


def closed_ports(count: int) -> list[int]:
    """Ports on 127.0.0.1 nothing listens on (bound, then released): connections are refused."""
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_a_map_run_failed_on_its_threshold_still_stores_what_was_crawled(
    template: dict[str, Any], site: DemoSite, tmp_path: Path
) -> None:
    """The real template, distributed: three lanes of unreachable hosts fail their child
    executions (their one-page batches retry a refused connection, then fail uncaught), past
    tolerated_failure_percentage (10). The Map Run fails with AWS's error, the Map's Catch
    hands the run to StoreAndNotify, and every page a CrawlBatch fetched is stored as
    crawled; the pages never fetched are failed with the Map's error."""
    good = [site.url(f"/echo/tolerance-{i}") for i in range(8)]
    dead = [f"http://127.0.0.1:{port}/gone" for port in closed_ports(3)]
    record = run_execution(
        {"pages": good + dead, "batch_size": 1, "distributed_threshold": 5},
        EngineOptions(
            home=tmp_path / "home",
            template=uncaught_crawl_batch_failures(template),
            hooks=CrawlHooks(),
            time_scale=0.01,
            env_overrides={env.ALLOW_PRIVATE_NETWORKS: "true"},
        ),
    )

    assert record.meta["mode"] == "distributed"
    assert map_run_failed(record) == {"error": EXCEEDED, "cause": EXCEEDED_CAUSE}
    entered = [
        e["stateEnteredEventDetails"]["name"]
        for e in record.events
        if e["type"].endswith("Entered")
    ]
    assert entered[entered.index("CrawlPagesDistributed") + 1] == "StoreAndNotify"
    assert record.summary is not None
    assert record.summary["total"] == len(good + dead)
    lines = (record.run_dir / "results.jsonl").read_text().splitlines()
    saved = {r["url"]: r for r in (json.loads(line) for line in lines)}
    assert sorted(saved) == sorted(good + dead), "each page once"
    assert not any(saved[url]["ok"] for url in dead)
    for url in good:
        fetched = site.hits[url.removeprefix(site.base)] > 0
        assert saved[url]["ok"] == fetched, url
        if not fetched:
            assert saved[url]["error"] == EXCEEDED
    assert record.meta["distributed"]["child_executions_failed"] >= 1


# ---------------------------------------------------------------- function timeout


def test_a_handler_raising_after_its_timeout_is_reported_as_timed_out(tmp_path: Path) -> None:
    """Lambda stops the function at its Timeout, before it could raise: Sandbox.Timedout."""
    definition = {
        "StartAt": "Slow",
        "States": {
            "Slow": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "<fn:Slow>", "Payload.$": "$"},
                "End": True,
            }
        },
    }
    template = template_with(
        definition, {"Slow": "tests.workflow.limit_handlers.slow_then_fail"}, timeout_s=1
    )
    record = run_execution(
        {"seconds": 1.2}, EngineOptions(home=tmp_path / "home", template=template)
    )

    assert record.status == "FAILED"
    assert record.error == "Sandbox.Timedout"
    payload = json.loads(record.cause or "")
    assert payload["errorMessage"].endswith("Error: Task timed out after 1.00 seconds")
    assert "raised after the timeout" not in (record.cause or "")
