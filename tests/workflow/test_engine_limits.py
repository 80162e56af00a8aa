"""The AWS limits the local engine enforces: Lambda concurrency (throttling) and the
distributed Map's tolerated failure threshold.

moto stands in for Step Functions and S3; the handlers are tiny ones (limit_handlers.py,
tiny_handlers.py) or, where said, the real crawlmap template and handlers against the demo
site on 127.0.0.1.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from crawlmap.demo import DemoSite
from crawlmap.engine.errors import EngineError
from crawlmap.engine.runner import EngineOptions, RunRecord, run_execution
from lambdas.common import env
from lambdas.common.retries import LAMBDA_SERVICE_ERRORS
from tests.workflow.templates import template_with

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
