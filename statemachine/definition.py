"""The crawl workflow as CDK Step Functions states: exactly the chain in docs/CONTRACT.md.

`build_definition` only wires states to the functions and bucket it is given; IAM, logging
and the StateMachine resource live in stacks/workflow.py and the stack.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.config import CrawlmapConfig

# What Lambda's own service raises (not the function's code): always worth retrying.
LAMBDA_SERVICE_ERRORS = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.TooManyRequestsException",
)
# lambdas.common.errors class names; Step Functions matches the raised exception's class name.
TRANSIENT_CRAWL_ERROR = "TransientCrawlError"
INVALID_INPUT_ERROR = "InvalidInputError"
FAILURE_RATIO_EXCEEDED = "FailureRatioExceeded"
# The distributed Map's label: its child executions are named <state machine>/<label>:<id>,
# and stacks/grants.py scopes their permissions with it.
MAP_RUN_LABEL = "CrawlPages"


@dataclass(frozen=True)
class WorkflowFunctions:
    list_pages: lambda_.IFunction
    crawl_batch: lambda_.IFunction
    store_and_notify: lambda_.IFunction


def _add_retry(task: tasks.LambdaInvoke, errors: tuple[str, ...]) -> None:
    """Exponential backoff 2 s, 4 s (capped at 30 s) with full jitter, 3 attempts."""
    task.add_retry(
        errors=list(errors),
        interval=Duration.seconds(2),
        backoff_rate=2,
        max_attempts=3,
        max_delay=Duration.seconds(30),
        jitter_strategy=sfn.JitterType.FULL,
    )


def _item_selector() -> dict[str, object]:
    # $ is the Map state's input (the ListPages output); $$.Map.Item.Value is one Batch.
    return {
        "run_id": sfn.JsonPath.string_at("$.run.run_id"),
        "batch_id": sfn.JsonPath.string_at("$$.Map.Item.Value.batch_id"),
        "pages": sfn.JsonPath.string_at("$$.Map.Item.Value.pages"),
    }


def _crawl_batch_chain(
    scope: Construct, *, id_suffix: str, function: lambda_.IFunction
) -> sfn.IChainable:
    """CrawlBatch with its Retry, and Catch -> RecordFailure (one failure record per batch).

    State names must be unique in the whole state machine (ASL spec; CDK enforces it), so the
    distributed Map's copies are CrawlBatchDistributed and RecordFailureDistributed.
    """
    crawl = tasks.LambdaInvoke(
        scope,
        f"CrawlBatch{id_suffix}",
        lambda_function=function,
        payload_response_only=False,
        retry_on_service_exceptions=False,
        payload=sfn.TaskInput.from_object(
            {
                "run_id": sfn.JsonPath.string_at("$.run_id"),
                "batch_id": sfn.JsonPath.string_at("$.batch_id"),
                "pages": sfn.JsonPath.string_at("$.pages"),
                "retry_count": sfn.JsonPath.string_at("$$.State.RetryCount"),
            }
        ),
        result_selector={
            "batch_id": sfn.JsonPath.string_at("$.Payload.batch_id"),
            "results": sfn.JsonPath.string_at("$.Payload.results"),
        },
    )
    _add_retry(crawl, (*LAMBDA_SERVICE_ERRORS, TRANSIENT_CRAWL_ERROR))
    record_failure = sfn.Pass(
        scope,
        f"RecordFailure{id_suffix}",
        parameters={
            "batch_id": sfn.JsonPath.string_at("$.batch_id"),
            "results": [],
            "failure": {
                "pages": sfn.JsonPath.string_at("$.pages"),
                "error": sfn.JsonPath.string_at("$.error.Error"),
                "cause": sfn.JsonPath.string_at("$.error.Cause"),
            },
        },
    )
    crawl.add_catch(record_failure, errors=[sfn.Errors.ALL], result_path="$.error")
    return crawl


def build_definition(
    scope: Construct,
    *,
    functions: WorkflowFunctions,
    bucket: s3.IBucket,
    config: CrawlmapConfig,
) -> sfn.IChainable:
    list_pages = tasks.LambdaInvoke(
        scope,
        "ListPages",
        lambda_function=functions.list_pages,
        payload_response_only=False,
        retry_on_service_exceptions=False,
        payload=sfn.TaskInput.from_object(
            {
                "input": sfn.JsonPath.string_at("$"),
                "execution": sfn.JsonPath.string_at("$$.Execution.Name"),
                "started_at": sfn.JsonPath.string_at("$$.Execution.StartTime"),
            }
        ),
        result_selector={
            "run": sfn.JsonPath.string_at("$.Payload.run"),
            "batches": sfn.JsonPath.string_at("$.Payload.batches"),
        },
        result_path="$",
    )
    _add_retry(list_pages, LAMBDA_SERVICE_ERRORS)

    explain_invalid_input = sfn.Pass(
        scope,
        "ExplainInvalidInput",
        parameters={
            "message": sfn.JsonPath.string_to_json(sfn.JsonPath.string_at("$.error.Cause"))
        },
    )
    invalid_input = sfn.Fail(
        scope, "InvalidInput", error="InvalidInput", cause_path="$.message.errorMessage"
    )
    list_pages.add_catch(
        explain_invalid_input.next(invalid_input),
        errors=[INVALID_INPUT_ERROR],
        result_path="$.error",
    )

    crawl_pages = sfn.Map(
        scope,
        "CrawlPages",
        max_concurrency=config.max_concurrency,
        items_path="$.batches",
        item_selector=_item_selector(),
        result_path="$.batches",
    )
    crawl_pages.item_processor(
        _crawl_batch_chain(scope, id_suffix="", function=functions.crawl_batch)
    )

    crawl_pages_distributed = sfn.DistributedMap(
        scope,
        "CrawlPagesDistributed",
        label=MAP_RUN_LABEL,
        map_execution_type=sfn.StateMachineType.EXPRESS,
        max_concurrency=config.distributed_max_concurrency,
        tolerated_failure_percentage=config.tolerated_failure_percentage,
        item_reader=sfn.S3JsonItemReader(
            bucket_name_path=sfn.JsonPath.string_at("$.run.batches_location.bucket"),
            key=sfn.JsonPath.string_at("$.run.batches_location.key"),
        ),
        result_writer_v2=sfn.ResultWriterV2(
            bucket=bucket, prefix=sfn.JsonPath.string_at("$.run.results_prefix")
        ),
        item_selector=_item_selector(),
        result_selector={"result_writer": sfn.JsonPath.string_at("$.ResultWriterDetails")},
        result_path="$.batches",
    )
    # DistributedMap sets ProcessorConfig itself (Mode DISTRIBUTED, map_execution_type above).
    crawl_pages_distributed.item_processor(
        _crawl_batch_chain(scope, id_suffix="Distributed", function=functions.crawl_batch)
    )

    store_and_notify = tasks.LambdaInvoke(
        scope,
        "StoreAndNotify",
        lambda_function=functions.store_and_notify,
        payload_response_only=False,
        retry_on_service_exceptions=False,
        payload=sfn.TaskInput.from_json_path_at("$"),
        result_selector={"summary": sfn.JsonPath.string_at("$.Payload")},
        output_path="$.summary",
    )
    _add_retry(store_and_notify, LAMBDA_SERVICE_ERRORS)

    # The summary is in the state (StoreAndNotify's output): the Cause says what went wrong.
    run_failed = sfn.Fail(
        scope,
        "RunFailed",
        error=FAILURE_RATIO_EXCEEDED,
        cause_path=sfn.JsonPath.format(
            f"{{}} of {{}} pages failed ({{}} skipped by robots.txt): failure ratio {{}} is over"
            f" the limit {config.failure_ratio:g}; the run summary was stored and published",
            sfn.JsonPath.string_at("$.failed"),
            sfn.JsonPath.string_at("$.total"),
            sfn.JsonPath.string_at("$.skipped"),
            sfn.JsonPath.string_at("$.failure_ratio"),
        ),
    )
    succeeded = sfn.Succeed(scope, "Succeeded")
    check_failure_ratio = (
        sfn.Choice(scope, "CheckFailureRatio")
        .when(
            sfn.Condition.number_greater_than("$.failure_ratio", config.failure_ratio), run_failed
        )
        .otherwise(succeeded)
    )
    store_and_notify.next(check_failure_ratio)
    crawl_pages.next(store_and_notify)
    crawl_pages_distributed.next(store_and_notify)

    choose_mode = (
        sfn.Choice(scope, "ChooseMode")
        .when(sfn.Condition.string_equals("$.run.mode", "distributed"), crawl_pages_distributed)
        .otherwise(crawl_pages)
    )
    return list_pages.next(choose_mode)
