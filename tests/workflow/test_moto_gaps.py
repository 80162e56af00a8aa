"""Each place moto 5.2.5's Step Functions interpreter differs from AWS, and the engine's answer.

moto stands in for AWS Step Functions and S3 here. Where a gap shows without the engine, a test
first shows it on moto as it is (so a moto upgrade that closes it is noticed), then that the
engine behaves as AWS does.
The handlers are the tiny ones in tiny_handlers.py, so these tests do not depend on the crawler.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

from crawlmap.engine.errors import EngineError
from crawlmap.engine.moto_patches import normalize_definition
from crawlmap.engine.runner import EngineOptions, RunRecord, run_execution
from tests.workflow.templates import concrete, template_with

HANDLERS = {
    "PutItems": "tests.workflow.tiny_handlers.put_items",
    "Child": "tests.workflow.tiny_handlers.fail_if_asked",
    "ReadResults": "tests.workflow.tiny_handlers.read_result_writer",
}


def distributed_definition(
    *, execution_type: str = "EXPRESS", tolerated: Any = 50, catch: bool = False
) -> dict[str, Any]:
    child: dict[str, Any] = {"Type": "Task", "Resource": "<fn:Child>", "End": True}
    if catch:
        child["Catch"] = [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]
    states: dict[str, Any] = {"Child": child}
    if catch:
        states["Caught"] = {"Type": "Pass", "Result": {"caught": True}, "End": True}
    return {
        "StartAt": "PutItems",
        "States": {
            "PutItems": {
                "Type": "Task",
                "Resource": "<fn:PutItems>",
                "ResultPath": "$.location",
                "Next": "Fan",
            },
            "Fan": {
                "Type": "Map",
                "Label": "Fan",
                "MaxConcurrency": 3,
                "ToleratedFailurePercentage": tolerated,
                "ItemReader": {
                    "Resource": "arn:aws:states:::s3:getObject",
                    "ReaderConfig": {"InputType": "JSON"},
                    "Parameters": {"Bucket.$": "$.location.bucket", "Key.$": "$.location.key"},
                },
                "ItemSelector": {"n.$": "$$.Map.Item.Value.n", "fail.$": "$$.Map.Item.Value.fail"},
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type},
                    "StartAt": "Child",
                    "States": states,
                },
                "ResultWriter": {
                    "Resource": "arn:aws:states:::s3:putObject",
                    # A path, as crawlmap's ResultWriter has: moto evaluated it against the
                    # children's outputs; AWS (and the engine) against the state input.
                    "Parameters": {"Bucket": "<bucket>", "Prefix.$": "$.prefix"},
                },
                "ResultSelector": {"result_writer.$": "$.ResultWriterDetails"},
                "Next": "ReadResults",
            },
            "ReadResults": {"Type": "Task", "Resource": "<fn:ReadResults>", "End": True},
        },
    }


def items(count: int, failing: set[int] = frozenset()) -> list[dict[str, Any]]:  # type: ignore[assignment]
    return [{"n": i, "fail": "boom" if i in failing else ""} for i in range(count)]


def run(tmp_path: Path, definition: dict[str, Any], payload: Any, **options: Any) -> RunRecord:
    if "items" in payload:
        payload = {**payload, "prefix": "results"}
    return run_execution(
        payload,
        EngineOptions(
            home=tmp_path / "home",
            template=template_with(definition, HANDLERS),
            time_scale=0.01,
            **options,
        ),
    )


def moto_rejects(definition: dict[str, Any]) -> str:
    """The error moto's own ASL parser gives for the definition ('' if accepted).

    The parser itself, not create_state_machine: `crawlmap serve` (tests/serve) patches the
    backend's validation in-process, and this test is about what unpatched moto refuses."""
    try:
        AmazonStateLanguageParser.parse(json.dumps(concrete(definition)))
    except Exception as exc:  # moto raises ASLParserException or whatever its parser hits
        return repr(exc)
    return ""


def test_express_children_and_integer_tolerance_fail_to_parse_on_moto_but_run_on_the_engine(
    tmp_path: Path,
) -> None:
    raw = distributed_definition(execution_type="EXPRESS", tolerated=50)
    assert "expecting '\"STANDARD\"'" in moto_rejects(
        distributed_definition(execution_type="EXPRESS", tolerated=50.0)
    )
    assert '"ToleratedFailurePercentage":50' in moto_rejects(
        distributed_definition(execution_type="STANDARD", tolerated=50)
    )
    assert moto_rejects(distributed_definition(execution_type="STANDARD", tolerated=50.0)) == ""

    normalized, notes = normalize_definition(raw)
    fan = normalized["States"]["Fan"]
    assert fan["ItemProcessor"]["ProcessorConfig"]["ExecutionType"] == "STANDARD"
    assert fan["ToleratedFailurePercentage"] == 50.0
    assert isinstance(fan["ToleratedFailurePercentage"], float)
    assert len(notes) == 2

    record = run(tmp_path, raw, {"items": items(4)})
    assert record.status == "SUCCEEDED"
    assert record.meta["mode"] == "distributed"
    assert record.meta["distributed"]["child_executions"] == 4
    assert record.meta["distributed"]["child_state_transitions"] == 4
    assert record.meta["functions"]["Child"]["invocations"] == 4


def test_result_writer_writes_the_result_files_aws_writes(tmp_path: Path) -> None:
    record = run(tmp_path, distributed_definition(), {"items": items(5, failing={3})})
    assert record.status == "SUCCEEDED"
    manifest = record.output["manifest"]
    files = record.output["files"]
    succeeded = manifest["ResultFiles"]["SUCCEEDED"]
    failed = manifest["ResultFiles"]["FAILED"]
    assert [Path(f["Key"]).name for f in succeeded] == ["SUCCEEDED_0.json"]
    assert [Path(f["Key"]).name for f in failed] == ["FAILED_0.json"]
    assert manifest["ResultFiles"]["PENDING"] == []
    assert all(f["Key"].startswith("results/") for f in succeeded + failed)

    ok_entries = files[succeeded[0]["Key"]]
    assert sorted(json.loads(e["Input"])["n"] for e in ok_entries) == [0, 1, 2, 4]
    for entry in ok_entries:
        assert entry["Status"] == "SUCCEEDED"
        assert json.loads(entry["Output"]) == json.loads(entry["Input"])  # the child echoes
        assert set(entry) >= {"ExecutionArn", "InputDetails", "Name", "OutputDetails"}
        assert entry["StartDate"] <= entry["StopDate"]
    (failed_entry,) = files[failed[0]["Key"]]
    assert failed_entry["Status"] == "FAILED"
    assert json.loads(failed_entry["Input"]) == {"n": 3, "fail": "boom"}
    assert failed_entry["Error"] == "TinyError"
    assert "asked to fail" in failed_entry["Cause"]
    assert succeeded[0]["Size"] == len(json.dumps(ok_entries).encode())


def test_tolerated_failure_percentage_is_enforced(tmp_path: Path) -> None:
    within = run(tmp_path, distributed_definition(tolerated=50), {"items": items(4, {0})})
    assert within.status == "SUCCEEDED"

    beyond = run(tmp_path, distributed_definition(tolerated=50), {"items": items(4, {0, 1, 2})})
    assert beyond.status == "FAILED"
    assert beyond.error == "States.ExceedToleratedFailureThreshold"
    assert beyond.cause == "The specified tolerated failure threshold was exceeded"  # AWS's
    assert "MapRunFailed" in [e["type"] for e in beyond.events]

    caught = run(
        tmp_path, distributed_definition(tolerated=0, catch=True), {"items": items(4, {0, 1})}
    )
    assert caught.status == "SUCCEEDED", "a child that catches its error succeeds"


def test_retry_waits_are_scaled_locally_and_still_recorded(tmp_path: Path) -> None:
    definition = {
        "StartAt": "Flaky",
        "States": {
            "Flaky": {
                "Type": "Task",
                "Resource": "<fn:Child>",
                "Retry": [{"ErrorEquals": ["TinyError"], "IntervalSeconds": 20, "MaxAttempts": 2}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Done"}],
                "Next": "Done",
            },
            "Done": {"Type": "Pass", "End": True},
        },
    }
    started = time.monotonic()
    record = run(tmp_path, definition, {"fail": "always"})
    assert time.monotonic() - started < 10, "20 s + 40 s of retry waits, scaled by 0.01"
    types = [e["type"] for e in record.events]
    assert types.count("LambdaFunctionFailed") == 3  # the first attempt and two retries
    assert record.status == "SUCCEEDED"
    assert record.output["error"]["Error"] == "TinyError"
    assert json.loads(record.output["error"]["Cause"])["errorType"] == "TinyError"


@pytest.mark.parametrize("scale", [0.0, 0.01])
def test_time_scale_is_recorded_in_the_run(tmp_path: Path, scale: float) -> None:
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
    record = run_execution(
        {},
        EngineOptions(
            home=tmp_path / "home", template=template_with(definition, {}), time_scale=scale
        ),
    )
    assert record.meta["time_scale"] == scale
    assert json.loads((record.run_dir / "meta.json").read_text())["status"] == "SUCCEEDED"


def test_execution_start_time_has_the_aws_format(tmp_path: Path) -> None:
    definition = {
        "StartAt": "Echo",
        "States": {
            "Echo": {
                "Type": "Task",
                "Resource": "<fn:Child>",
                "Parameters": {
                    "started_at.$": "$$.Execution.StartTime",
                    "entered_at.$": "$$.State.EnteredTime",
                },
                "End": True,
            }
        },
    }
    record = run(tmp_path, definition, {})
    assert record.status == "SUCCEEDED"
    aws_time = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    assert re.fullmatch(aws_time, record.output["started_at"])
    assert re.fullmatch(aws_time, record.output["entered_at"])
    assert record.output["started_at"] <= record.output["entered_at"]


def test_a_handler_past_its_timeout_fails_as_lambda_reports_it(tmp_path: Path) -> None:
    """Lambda stops a function at its Timeout; the engine cannot stop a thread, so it reports
    the invocation as Lambda would once the handler returns late."""
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
    template = template_with(definition, {"Slow": "tests.workflow.tiny_handlers.slow"}, timeout_s=1)
    home = tmp_path / "home"
    in_time = run_execution({"seconds": 0.1}, EngineOptions(home=home, template=template))
    assert in_time.status == "SUCCEEDED"
    assert 500 < in_time.output["Payload"]["remaining_ms_before"] <= 1000

    late = run_execution({"seconds": 1.2}, EngineOptions(home=home, template=template))
    assert late.status == "FAILED"
    assert late.error == "Sandbox.Timedout"
    # The Invoke payload Lambda gives (AWS-recorded): no requestId or stackTrace keys.
    payload = json.loads(late.cause or "")
    assert set(payload) == {"errorType", "errorMessage"}
    assert re.fullmatch(
        r"RequestId: [0-9a-f-]{36} Error: Task timed out after 1\.00 seconds",
        payload["errorMessage"],
    )


def test_item_batcher_is_not_supported_and_the_engine_says_so(tmp_path: Path) -> None:
    definition = distributed_definition(tolerated=50.0, execution_type="STANDARD")
    definition["States"]["Fan"]["ItemBatcher"] = {"MaxItemsPerBatch": 2}
    assert "ItemBatcher" in moto_rejects(definition)
    with pytest.raises(EngineError, match="ItemBatcher"):
        run(tmp_path, definition, {"items": items(2)})


def _one_at_a_time(count: int, mode: str) -> dict[str, Any]:
    """A Map at MaxConcurrency 1 over `count` items from the input (a lane's shape)."""
    return {
        "StartAt": "Lane",
        "States": {
            "Lane": {
                "Type": "Map",
                "ItemsPath": "$.indexes",
                "MaxConcurrency": 1,
                "ItemSelector": {"i.$": "$$.Map.Item.Value"},
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": mode, "ExecutionType": "STANDARD"},
                    "StartAt": "Name",
                    "States": {
                        "Name": {
                            "Type": "Pass",
                            "Parameters": {"key.$": "States.Format('batch-{}', $.i)"},
                            "End": True,
                        }
                    },
                },
                "End": True,
            }
        },
    }


@pytest.mark.parametrize(("mode", "count"), [("INLINE", 3000), ("DISTRIBUTED", 1200)])
def test_a_map_runs_thousands_of_iterations_one_after_another(
    tmp_path: Path, mode: str, count: int
) -> None:
    """moto's Map worker recursed once per iteration: about 950 in a row failed the Map with
    "maximum recursion depth exceeded" (gap 11); AWS, and the engine, run them all in order."""
    definition = _one_at_a_time(count, mode)
    record = run_execution(
        {"indexes": list(range(count))},
        EngineOptions(home=tmp_path / "home", template=template_with(definition, {})),
    )
    assert record.status == "SUCCEEDED", record.cause
    output = json.loads(record.events[-1]["executionSucceededEventDetails"]["output"])
    assert output == [{"key": f"batch-{i}"} for i in range(count)]
