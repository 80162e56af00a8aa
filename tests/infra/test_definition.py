"""The synthesized state machine is exactly the chain in docs/CONTRACT.md."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.conftest import Synthesized

LAMBDA_SERVICE_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.TooManyRequestsException",
]
BACKOFF = {
    "IntervalSeconds": 2,
    "MaxAttempts": 3,
    "BackoffRate": 2,
    "MaxDelaySeconds": 30,
    "JitterStrategy": "FULL",
}
MAP_CATCH = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.map_error", "Next": "StoreAndNotify"}]


@pytest.fixture(scope="module")
def states(synthesized: Synthesized) -> dict[str, Any]:
    definition = synthesized.definition()
    assert definition["StartAt"] == "ListPages"
    result: dict[str, Any] = definition["States"]
    return result


def _function_id(synthesized: Synthesized, name: str) -> str:
    from stacks.nag import logical_id

    return logical_id(synthesized.stack.functions.by_state_name[name])


def test_top_level_state_names(states: dict[str, Any]) -> None:
    assert set(states) == {
        "ListPages", "ExplainInvalidInput", "InvalidInput", "ChooseMode", "CrawlPages",
        "CrawlPagesDistributed", "StoreAndNotify", "CheckFailureRatio", "RunFailed", "Succeeded",
    }  # fmt: skip


def test_list_pages(states: dict[str, Any], synthesized: Synthesized) -> None:
    list_pages = states["ListPages"]
    assert list_pages["Resource"] == "arn:<AWS::Partition>:states:::lambda:invoke"
    assert list_pages["Parameters"] == {
        "FunctionName": f"<{_function_id(synthesized, 'ListPages')}>",
        "Payload": {
            "input.$": "$",
            "execution.$": "$$.Execution.Name",
            "started_at.$": "$$.Execution.StartTime",
            "map_concurrency": {"inline": 10, "distributed": 100},
        },
    }
    assert list_pages["ResultSelector"] == {
        "run.$": "$.Payload.run",
        "lanes.$": "$.Payload.lanes",
    }
    assert list_pages["ResultPath"] == "$"
    assert list_pages["Retry"] == [{"ErrorEquals": LAMBDA_SERVICE_ERRORS, **BACKOFF}]
    assert list_pages["Catch"] == [
        {
            "ErrorEquals": ["InvalidInputError"],
            "ResultPath": "$.error",
            "Next": "ExplainInvalidInput",
        }
    ]
    assert list_pages["Next"] == "ChooseMode"


def test_invalid_input_ends_in_a_fail_naming_the_field(states: dict[str, Any]) -> None:
    assert states["ExplainInvalidInput"] == {
        "Type": "Pass",
        "Parameters": {"message.$": "States.StringToJson($.error.Cause)"},
        "Next": "InvalidInput",
    }
    assert states["InvalidInput"] == {
        "Type": "Fail",
        "Error": "InvalidInput",
        "CausePath": "$.message.errorMessage",
    }


def test_choose_mode(states: dict[str, Any]) -> None:
    assert states["ChooseMode"] == {
        "Type": "Choice",
        "Choices": [
            {
                "Variable": "$.run.mode",
                "StringEquals": "distributed",
                "Next": "CrawlPagesDistributed",
            }
        ],
        "Default": "CrawlPages",
    }


def _check_crawl_batch(
    processor: dict[str, Any],
    crawl: str,
    record: str,
    function: str,
    *,
    payload: dict[str, str],
    results: dict[str, str],
    failure: dict[str, Any],
) -> None:
    assert processor["StartAt"] == crawl
    assert set(processor["States"]) == {crawl, record}
    task = processor["States"][crawl]
    assert task["Type"] == "Task"
    assert task["End"] is True
    assert task["Parameters"] == {
        "FunctionName": f"<{function}>",
        "Payload": {**payload, "retry_count.$": "$$.State.RetryCount"},
    }
    assert task["ResultSelector"] == results
    assert task["Retry"] == [
        {"ErrorEquals": [*LAMBDA_SERVICE_ERRORS, "TransientCrawlError"], **BACKOFF}
    ]
    assert task["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": record}
    ]
    assert processor["States"][record] == {"Type": "Pass", "Parameters": failure, "End": True}


def test_inline_map(states: dict[str, Any], synthesized: Synthesized) -> None:
    """CrawlPages runs lanes in parallel; CrawlLane runs a lane's batches one at a time."""
    crawl_pages = states["CrawlPages"]
    assert crawl_pages["Type"] == "Map"
    assert crawl_pages["MaxConcurrency"] == 10
    assert crawl_pages["ItemsPath"] == "$.lanes"
    assert crawl_pages["ResultPath"] == "$.lanes"
    assert crawl_pages["ItemSelector"] == {
        "run_id.$": "$.run.run_id",
        "lane_id.$": "$$.Map.Item.Value.lane_id",
        "batches.$": "$$.Map.Item.Value.batches",
    }
    assert crawl_pages["ItemProcessor"]["ProcessorConfig"] == {"Mode": "INLINE"}
    assert crawl_pages["Catch"] == MAP_CATCH
    assert crawl_pages["Next"] == "StoreAndNotify"
    lane_processor = crawl_pages["ItemProcessor"]
    assert lane_processor["StartAt"] == "CrawlLane"
    assert set(lane_processor["States"]) == {"CrawlLane"}
    lane = lane_processor["States"]["CrawlLane"]
    assert lane["Type"] == "Map"
    assert lane["MaxConcurrency"] == 1
    assert lane["ItemsPath"] == "$.batches"
    assert lane["ItemSelector"] == {
        "run_id.$": "$.run_id",
        "lane_id.$": "$.lane_id",
        "batch_id.$": "$$.Map.Item.Value.batch_id",
        "pages.$": "$$.Map.Item.Value.pages",
        "hosts.$": "$$.Map.Item.Value.hosts",
    }
    assert lane["End"] is True
    _check_crawl_batch(
        lane["ItemProcessor"], "CrawlBatch", "RecordFailure",
        _function_id(synthesized, "CrawlBatch"),
        payload={
            "run_id.$": "$.run_id", "batch_id.$": "$.batch_id", "lane_id.$": "$.lane_id",
            "pages.$": "$.pages", "hosts.$": "$.hosts",
        },
        results={"batch_id.$": "$.Payload.batch_id", "results.$": "$.Payload.results"},
        failure={
            "batch_id.$": "$.batch_id",
            "results": [],
            "failure": {
                "pages.$": "$.pages", "error.$": "$.error.Error", "cause.$": "$.error.Cause",
            },
        },
    )  # fmt: skip


def test_distributed_map(states: dict[str, Any], synthesized: Synthesized) -> None:
    """One STANDARD child execution per lane: PlanLane, then its batches one at a time."""
    bucket = synthesized.stack.resolve(synthesized.stack.storage.bucket.bucket_name)["Ref"]
    distributed = states["CrawlPagesDistributed"]
    assert distributed["Type"] == "Map"
    assert distributed["Label"] == "CrawlPages"
    assert distributed["MaxConcurrency"] == 100
    assert distributed["ToleratedFailurePercentage"] == 10
    assert distributed["ItemProcessor"]["ProcessorConfig"] == {
        "Mode": "DISTRIBUTED",
        "ExecutionType": "STANDARD",
    }
    assert distributed["ItemReader"] == {
        "Resource": "arn:<AWS::Partition>:states:::s3:getObject",
        "ReaderConfig": {"InputType": "JSON"},
        "Parameters": {
            "Bucket.$": "$.run.lanes_location.bucket",
            "Key.$": "$.run.lanes_location.key",
        },
    }
    assert distributed["ItemSelector"] == {
        "run_id.$": "$.run.run_id",
        "bucket.$": "$.run.lanes_location.bucket",
        "results_prefix.$": "$.run.results_prefix",
        "lane_id.$": "$$.Map.Item.Value.lane_id",
        "batch_count.$": "$$.Map.Item.Value.batch_count",
        "batches_prefix.$": "$$.Map.Item.Value.batches_prefix",
    }
    assert distributed["ResultWriter"] == {
        "Resource": "arn:<AWS::Partition>:states:::s3:putObject",
        "Parameters": {"Bucket": f"<{bucket}>", "Prefix.$": "$.run.results_prefix"},
    }
    assert distributed["ResultSelector"] == {"result_writer.$": "$.ResultWriterDetails"}
    assert distributed["ResultPath"] == "$.lanes"
    assert distributed["Catch"] == MAP_CATCH
    assert distributed["Next"] == "StoreAndNotify"
    child = distributed["ItemProcessor"]
    assert child["StartAt"] == "PlanLane"
    assert set(child["States"]) == {"PlanLane", "CrawlLaneDistributed"}
    assert child["States"]["PlanLane"] == {
        "Type": "Pass",
        "Parameters": {
            "run_id.$": "$.run_id",
            "lane_id.$": "$.lane_id",
            "bucket.$": "$.bucket",
            "batches_prefix.$": "$.batches_prefix",
            "results_prefix.$": "$.results_prefix",
            "indexes.$": "States.ArrayRange(0, States.MathAdd($.batch_count, -1), 1)",
        },
        "Next": "CrawlLaneDistributed",
    }
    lane = child["States"]["CrawlLaneDistributed"]
    assert lane["Type"] == "Map"
    assert lane["MaxConcurrency"] == 1
    assert lane["ItemsPath"] == "$.indexes"
    assert lane["ItemSelector"] == {
        "run_id.$": "$.run_id",
        "lane_id.$": "$.lane_id",
        "batch_index.$": "$$.Map.Item.Value",
        "batch_location": {
            "bucket.$": "$.bucket",
            "key.$": "States.Format('{}{}.json', $.batches_prefix, $$.Map.Item.Value)",
        },
        "results_location": {
            "bucket.$": "$.bucket",
            "key.$": "States.Format('{}{}/{}.json', $.results_prefix, $.lane_id,"
            " $$.Map.Item.Value)",
        },
    }
    assert lane["ItemProcessor"]["ProcessorConfig"] == {"Mode": "INLINE"}
    # State names are unique across a state machine, hence the suffix (see definition.py).
    _check_crawl_batch(
        lane["ItemProcessor"], "CrawlBatchDistributed", "RecordFailureDistributed",
        _function_id(synthesized, "CrawlBatch"),
        payload={
            "run_id.$": "$.run_id", "lane_id.$": "$.lane_id", "batch_index.$": "$.batch_index",
            "batch_location.$": "$.batch_location", "results_location.$": "$.results_location",
        },
        results={
            "batch_id.$": "$.Payload.batch_id", "lane_id.$": "$.Payload.lane_id",
            "results_key.$": "$.Payload.results_key", "pages.$": "$.Payload.pages",
        },
        failure={
            "lane_id.$": "$.lane_id",
            "batch_index.$": "$.batch_index",
            "failure": {"error.$": "$.error.Error", "cause.$": "$.error.Cause"},
        },
    )  # fmt: skip


def test_store_and_notify_then_failure_ratio(
    states: dict[str, Any], synthesized: Synthesized
) -> None:
    store = states["StoreAndNotify"]
    assert store["Parameters"] == {
        "FunctionName": f"<{_function_id(synthesized, 'StoreAndNotify')}>",
        "Payload.$": "$",
    }
    assert store["ResultSelector"] == {"summary.$": "$.Payload"}
    assert store["OutputPath"] == "$.summary"
    assert store["Retry"] == [{"ErrorEquals": LAMBDA_SERVICE_ERRORS, **BACKOFF}]
    assert "Catch" not in store
    assert store["Next"] == "CheckFailureRatio"
    assert states["CheckFailureRatio"] == {
        "Type": "Choice",
        "Choices": [
            {"Variable": "$.failure_ratio", "NumericGreaterThan": 0.5, "Next": "RunFailed"}
        ],
        "Default": "Succeeded",
    }
    assert states["RunFailed"] == {
        "Type": "Fail",
        "Error": "FailureRatioExceeded",
        "CausePath": "States.Format('{} of {} pages failed ({} skipped by robots.txt): failure"
        " ratio {} is over the limit 0.5; the run summary was stored and published',"
        " $.failed, $.total, $.skipped, $.failure_ratio)",
    }
    assert states["Succeeded"] == {"Type": "Succeed"}


def test_config_values_are_baked_into_the_definition(variant: Synthesized) -> None:
    states = variant.definition()["States"]
    assert states["CrawlPages"]["MaxConcurrency"] == 25
    assert states["CrawlPagesDistributed"]["MaxConcurrency"] == 500
    assert states["CrawlPagesDistributed"]["ToleratedFailurePercentage"] == 5
    # ListPages plans no more lanes than the Maps run at once
    assert states["ListPages"]["Parameters"]["Payload"]["map_concurrency"] == {
        "inline": 25,
        "distributed": 500,
    }
    assert states["CheckFailureRatio"]["Choices"][0]["NumericGreaterThan"] == 0.2
