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
ITEM_SELECTOR = {
    "run_id.$": "$.run.run_id",
    "batch_id.$": "$$.Map.Item.Value.batch_id",
    "pages.$": "$$.Map.Item.Value.pages",
}


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
        },
    }
    assert list_pages["ResultSelector"] == {
        "run.$": "$.Payload.run",
        "batches.$": "$.Payload.batches",
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


def _check_crawl_batch(processor: dict[str, Any], crawl: str, record: str, function: str) -> None:
    assert processor["StartAt"] == crawl
    assert set(processor["States"]) == {crawl, record}
    task = processor["States"][crawl]
    assert task["Type"] == "Task"
    assert task["End"] is True
    assert task["Parameters"] == {
        "FunctionName": f"<{function}>",
        "Payload": {
            "run_id.$": "$.run_id",
            "batch_id.$": "$.batch_id",
            "pages.$": "$.pages",
            "retry_count.$": "$$.State.RetryCount",
        },
    }
    assert task["ResultSelector"] == {
        "batch_id.$": "$.Payload.batch_id",
        "results.$": "$.Payload.results",
    }
    assert task["Retry"] == [
        {"ErrorEquals": [*LAMBDA_SERVICE_ERRORS, "TransientCrawlError"], **BACKOFF}
    ]
    assert task["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": record}
    ]
    assert processor["States"][record] == {
        "Type": "Pass",
        "Parameters": {
            "batch_id.$": "$.batch_id",
            "results": [],
            "failure": {
                "pages.$": "$.pages",
                "error.$": "$.error.Error",
                "cause.$": "$.error.Cause",
            },
        },
        "End": True,
    }


def test_inline_map(states: dict[str, Any], synthesized: Synthesized) -> None:
    crawl_pages = states["CrawlPages"]
    assert crawl_pages["Type"] == "Map"
    assert crawl_pages["MaxConcurrency"] == 10
    assert crawl_pages["ItemsPath"] == "$.batches"
    assert crawl_pages["ResultPath"] == "$.batches"
    assert crawl_pages["ItemSelector"] == ITEM_SELECTOR
    assert crawl_pages["ItemProcessor"]["ProcessorConfig"] == {"Mode": "INLINE"}
    assert crawl_pages["Next"] == "StoreAndNotify"
    _check_crawl_batch(
        crawl_pages["ItemProcessor"], "CrawlBatch", "RecordFailure",
        _function_id(synthesized, "CrawlBatch"),
    )  # fmt: skip


def test_distributed_map(states: dict[str, Any], synthesized: Synthesized) -> None:
    bucket = synthesized.stack.resolve(synthesized.stack.storage.bucket.bucket_name)["Ref"]
    distributed = states["CrawlPagesDistributed"]
    assert distributed["Type"] == "Map"
    assert distributed["Label"] == "CrawlPages"
    assert distributed["MaxConcurrency"] == 100
    assert distributed["ToleratedFailurePercentage"] == 10
    assert distributed["ItemProcessor"]["ProcessorConfig"] == {
        "Mode": "DISTRIBUTED",
        "ExecutionType": "EXPRESS",
    }
    assert distributed["ItemReader"] == {
        "Resource": "arn:<AWS::Partition>:states:::s3:getObject",
        "ReaderConfig": {"InputType": "JSON"},
        "Parameters": {
            "Bucket.$": "$.run.batches_location.bucket",
            "Key.$": "$.run.batches_location.key",
        },
    }
    assert distributed["ItemSelector"] == ITEM_SELECTOR
    assert distributed["ResultWriter"] == {
        "Resource": "arn:<AWS::Partition>:states:::s3:putObject",
        "Parameters": {"Bucket": f"<{bucket}>", "Prefix.$": "$.run.results_prefix"},
    }
    assert distributed["ResultSelector"] == {"result_writer.$": "$.ResultWriterDetails"}
    assert distributed["ResultPath"] == "$.batches"
    assert distributed["Next"] == "StoreAndNotify"
    # State names are unique across a state machine, hence the suffix (see definition.py).
    _check_crawl_batch(
        distributed["ItemProcessor"], "CrawlBatchDistributed", "RecordFailureDistributed",
        _function_id(synthesized, "CrawlBatch"),
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
    assert states["CheckFailureRatio"]["Choices"][0]["NumericGreaterThan"] == 0.2
