"""`crawlmap serve` driven by the AWS CLI as a Step Functions Local user drives it."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from typing import Any

import pytest

from crawlmap.demo import DemoSite
from crawlmap.engine.resources import LocalResources
from crawlmap.engine.template import definition_of
from lambdas.common import states
from tests.serve.conftest import Served, aws, entered, in_order, subprocess_env, wait_done

pytestmark = pytest.mark.slow


def _start(served: Served, execution_input: Any, *, test_case: str | None = None) -> str:
    arn = served.state_machine_arn + (f"#{test_case}" if test_case else "")
    started = aws(
        served, "start-execution", "--state-machine-arn", arn,
        "--name", f"t-{uuid.uuid4().hex[:12]}", "--input", json.dumps(execution_input),
    )  # fmt: skip
    return str(started["executionArn"])


def _history(served: Served, execution_arn: str, *extra: str) -> list[dict[str, Any]]:
    page = aws(served, "get-execution-history", "--execution-arn", execution_arn, *extra)
    return list(page["events"])


def test_the_synthesized_machine_is_listed_under_the_stack_name(served: Served) -> None:
    listed = aws(served, "list-state-machines")["stateMachines"]
    assert [m["stateMachineArn"] for m in listed] == [served.state_machine_arn]
    assert served.state_machine_arn.endswith(":stateMachine:Crawlmap")


def test_describe_returns_the_definition_as_synthesized(
    served: Served, template: dict[str, Any]
) -> None:
    described = aws(
        served, "describe-state-machine", "--state-machine-arn", served.state_machine_arn
    )
    definition = json.loads(described["definition"])
    assert definition == definition_of(template, LocalResources(template))
    text = described["definition"]
    assert '"ExecutionType": "EXPRESS"' in text or '"ExecutionType": "STANDARD"' in text
    tolerance = json.dumps(definition)
    assert '"ToleratedFailurePercentage": 10.0' not in tolerance  # not the engine's float


def test_an_inline_crawl_runs_the_real_handlers_and_saves_a_run_folder(
    served: Served, site: DemoSite
) -> None:
    pages = [site.url(path) for path in site.demo_paths()[:3]]
    execution_arn = _start(served, {"pages": pages})
    described = wait_done(served, execution_arn)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"])["total"] == len(pages)
    events = _history(served, execution_arn)
    assert in_order(
        [states.LIST_PAGES, states.CRAWL_PAGES, states.CRAWL_BATCH, states.STORE_AND_NOTIFY,
         states.SUCCEEDED],
        entered(events),
    )  # fmt: skip
    run_dir = served.home / "runs" / execution_arn.rsplit(":", 1)[1]
    saved = json.loads((run_dir / "history.json").read_text())["events"]
    assert [e["type"] for e in saved] == [e["type"] for e in events]
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["status"] == "SUCCEEDED"
    assert meta["execution_arn"] == execution_arn
    shown = subprocess.run(
        [sys.executable, "-m", "crawlmap.cli", "history", run_dir.name],
        cwd=served.home, env=subprocess_env(served.home), capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert states.STORE_AND_NOTIFY in shown.stdout


def test_history_pages_as_the_cli_asks(served: Served, site: DemoSite) -> None:
    execution_arn = _start(served, {"pages": [site.url(site.demo_paths()[0])]})
    wait_done(served, execution_arn)
    whole = _history(served, execution_arn)
    first = aws(
        served, "get-execution-history", "--execution-arn", execution_arn, "--max-items", "5"
    )
    assert len(first["events"]) == 5
    rest = aws(
        served, "get-execution-history", "--execution-arn", execution_arn,
        "--starting-token", first["NextToken"],
    )  # fmt: skip
    assert [e["id"] for e in first["events"] + rest["events"]] == [e["id"] for e in whole]
    small_pages = _history(served, execution_arn, "--page-size", "4")
    assert [e["id"] for e in small_pages] == [e["id"] for e in whole]
    newest = aws(
        served, "get-execution-history", "--execution-arn", execution_arn,
        "--reverse-order", "--max-items", "1",
    )  # fmt: skip
    assert newest["events"][0]["type"] == "ExecutionSucceeded"


def test_a_distributed_crawl_has_a_map_run(served: Served, site: DemoSite) -> None:
    pages = [site.url(path) for path in site.demo_paths()[:3]]
    execution_arn = _start(served, {"pages": pages, "distributed_threshold": 0, "batch_size": 1})
    described = wait_done(served, execution_arn)
    assert described["status"] == "SUCCEEDED", described
    assert states.CRAWL_PAGES_DISTRIBUTED in entered(_history(served, execution_arn))
    map_runs = aws(served, "list-map-runs", "--execution-arn", execution_arn)["mapRuns"]
    assert len(map_runs) == 1
    map_run = aws(served, "describe-map-run", "--map-run-arn", map_runs[0]["mapRunArn"])
    assert map_run["status"] == "SUCCEEDED"
    assert map_run["itemCounts"]["failed"] == 0
    assert map_run["itemCounts"]["succeeded"] >= 1


def test_an_invalid_input_fails_naming_the_field(served: Served) -> None:
    execution_arn = _start(served, {"pages": []})
    described = wait_done(served, execution_arn)
    assert described["status"] == "FAILED"
    assert described["error"] == states.INVALID_INPUT
    assert "pages" in described["cause"]
    listed = aws(served, "list-executions", "--state-machine-arn", served.state_machine_arn)
    assert execution_arn in [e["executionArn"] for e in listed["executions"]]


def test_a_test_case_is_chosen_by_the_arn_suffix(served: Served) -> None:
    execution_arn = _start(
        served, {"pages": ["http://127.0.0.1:9/page"]}, test_case="TransientFailureRetried"
    )
    described = wait_done(served, execution_arn)
    assert described["status"] == "SUCCEEDED", described
    types = [e["type"] for e in _history(served, execution_arn)]
    assert "TaskFailed" in types


def test_an_unknown_test_case_is_refused_with_the_known_ones(served: Served) -> None:
    refused = aws(
        served, "start-execution", "--state-machine-arn", f"{served.state_machine_arn}#Nope",
        check=False,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "Nope" in refused.stderr
    assert "TransientFailureRetried" in refused.stderr


def test_own_machines_can_be_created_started_and_stopped(served: Served) -> None:
    definition = {
        "StartAt": "Hold",
        "States": {"Hold": {"Type": "Wait", "Seconds": 600, "End": True}},
    }
    created = aws(
        served, "create-state-machine", "--name", f"hold-{uuid.uuid4().hex[:6]}",
        "--definition", json.dumps(definition),
        "--role-arn", "arn:aws:iam::123456789012:role/test",
    )  # fmt: skip
    started = aws(served, "start-execution", "--state-machine-arn", created["stateMachineArn"])
    execution_arn = started["executionArn"]
    aws(served, "stop-execution", "--execution-arn", execution_arn)
    described = wait_done(served, execution_arn)
    assert described["status"] == "ABORTED"


def test_a_name_is_used_once(served: Served) -> None:
    name = f"once-{uuid.uuid4().hex[:8]}"
    arn = served.state_machine_arn + "#InvalidInput"
    aws(served, "start-execution", "--state-machine-arn", arn, "--name", name, "--input", "{}")
    wait_done(served, served.execution_arn(name))
    again = aws(
        served, "start-execution", "--state-machine-arn", arn, "--name", name, "--input", "{}",
        check=False,
    )  # fmt: skip
    assert again.returncode != 0
    assert "ExecutionAlreadyExists" in again.stderr


def test_boto3_works_as_against_aws(served: Served) -> None:
    import boto3

    sfn = boto3.client(
        "stepfunctions",
        endpoint_url=served.endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    started = sfn.start_execution(
        stateMachineArn=served.state_machine_arn + "#LambdaThrottled",
        input=json.dumps({"pages": ["http://127.0.0.1:9/page"]}),
    )
    from crawlmap.serve.testing import task_events, wait_for_execution

    assert wait_for_execution(sfn, started["executionArn"])["status"] == "SUCCEEDED"
    pages = sfn.get_paginator("get_execution_history").paginate(
        executionArn=started["executionArn"], PaginationConfig={"PageSize": 3}
    )
    events = [event for page in pages for event in page["events"]]
    assert task_events(events, states.CRAWL_BATCH).count("TaskFailed") == 2
