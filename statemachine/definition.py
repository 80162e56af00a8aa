"""The crawl workflow as CDK Step Functions states: exactly the chain in docs/CONTRACT.md.

    ListPages -> ChooseMode
      inline:      CrawlPages (Map over lanes) -> CrawlLane (Map over the lane's batches, one at
                   a time) -> CrawlBatch (Retry) | Catch -> RecordFailure
      distributed: CrawlPagesDistributed (Distributed Map over lanes.json, one STANDARD child
                   execution per lane) -> PlanLane -> CrawlLaneDistributed (one batch at a time)
                   -> CrawlBatchDistributed (Retry) | Catch -> RecordFailureDistributed
      both Maps: Catch States.ALL -> StoreAndNotify, which stores what was crawled
    StoreAndNotify -> CheckFailureRatio -> RunFailed | Succeeded

`build_definition` only wires states to the functions, bucket and settings it is given (plain
values: statemachine/ never imports stacks/); IAM, logging and the StateMachine resource live in
stacks/workflow.py and the stack. State names come from lambdas.common.states, Retry rules
from lambdas.common.retries.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, Token
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from lambdas.common import states
from lambdas.common.retries import (
    CRAWL_BATCH_RETRY,
    FAILURE_RATIO_EXCEEDED,
    INVALID_INPUT_ERROR,
    SERVICE_RETRY,
    RetryRule,
)
from lambdas.common.states import MAP_RUN_LABEL

__all__ = ["MAP_RUN_LABEL", "WorkflowFunctions", "WorkflowSettings", "build_definition"]


@dataclass(frozen=True)
class WorkflowFunctions:
    list_pages: lambda_.IFunction
    crawl_batch: lambda_.IFunction
    store_and_notify: lambda_.IFunction


@dataclass(frozen=True)
class WorkflowSettings:
    """The tunables the definition is built from (stacks/workflow.py fills it from the config)."""

    max_concurrency: int  # CrawlPages: lanes at once (inline)
    distributed_max_concurrency: int  # CrawlPagesDistributed: child executions (lanes) at once
    tolerated_failure_percentage: int
    failure_ratio: float  # CheckFailureRatio: over this, RunFailed


def _add_retry(task: tasks.LambdaInvoke, rule: RetryRule) -> None:
    task.add_retry(
        errors=list(rule.errors),
        interval=Duration.seconds(rule.interval_s),
        backoff_rate=rule.backoff_rate,
        max_attempts=rule.max_attempts,
        max_delay=Duration.seconds(rule.max_delay_s),
        jitter_strategy=sfn.JitterType.FULL if rule.full_jitter else sfn.JitterType.NONE,
    )


def _lambda_task(
    scope: Construct,
    name: str,
    function: lambda_.IFunction,
    payload: sfn.TaskInput,
    result_selector: dict[str, object],
    **options: object,
) -> tasks.LambdaInvoke:
    return tasks.LambdaInvoke(
        scope,
        name,
        lambda_function=function,
        payload_response_only=False,
        retry_on_service_exceptions=False,  # the Retry rules are ours (lambdas.common.retries)
        payload=payload,
        result_selector=result_selector,
        **options,  # type: ignore[arg-type]
    )


def _inline_crawl(scope: Construct, function: lambda_.IFunction) -> sfn.Map:
    """CrawlPages: lanes in parallel; CrawlLane: a lane's batches strictly one after another."""
    crawl = _lambda_task(
        scope,
        states.CRAWL_BATCH,
        function,
        sfn.TaskInput.from_object(
            {
                "run_id": sfn.JsonPath.string_at("$.run_id"),
                "batch_id": sfn.JsonPath.string_at("$.batch_id"),
                "lane_id": sfn.JsonPath.string_at("$.lane_id"),
                "pages": sfn.JsonPath.string_at("$.pages"),
                "hosts": sfn.JsonPath.string_at("$.hosts"),
                "retry_count": sfn.JsonPath.string_at("$$.State.RetryCount"),
            }
        ),
        {
            "batch_id": sfn.JsonPath.string_at("$.Payload.batch_id"),
            "results": sfn.JsonPath.string_at("$.Payload.results"),
        },
    )
    _add_retry(crawl, CRAWL_BATCH_RETRY)
    record_failure = sfn.Pass(
        scope,
        states.RECORD_FAILURE,
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

    crawl_lane = sfn.Map(
        scope,
        states.CRAWL_LANE,
        max_concurrency=1,  # a lane's batches one after another: its hosts' limits hold
        items_path="$.batches",
        item_selector={
            "run_id": sfn.JsonPath.string_at("$.run_id"),
            "lane_id": sfn.JsonPath.string_at("$.lane_id"),
            "batch_id": sfn.JsonPath.string_at("$$.Map.Item.Value.batch_id"),
            "pages": sfn.JsonPath.string_at("$$.Map.Item.Value.pages"),
            "hosts": sfn.JsonPath.string_at("$$.Map.Item.Value.hosts"),
        },
    )
    crawl_lane.item_processor(crawl)
    return crawl_lane


def _distributed_crawl(scope: Construct, function: lambda_.IFunction) -> sfn.IChainable:
    """One child execution per lane: PlanLane -> CrawlLaneDistributed (one batch at a time).

    The batches stay in S3 (runs/<run>/lanes/<lane>/<i>.json) and so do their results
    (runs/<run>/results/<lane>/<i>.json): the child's state carries only keys and counts.
    """
    crawl = _lambda_task(
        scope,
        states.CRAWL_BATCH_DISTRIBUTED,
        function,
        sfn.TaskInput.from_object(
            {
                "run_id": sfn.JsonPath.string_at("$.run_id"),
                "lane_id": sfn.JsonPath.string_at("$.lane_id"),
                "batch_index": sfn.JsonPath.string_at("$.batch_index"),
                "batch_location": sfn.JsonPath.string_at("$.batch_location"),
                "results_location": sfn.JsonPath.string_at("$.results_location"),
                "retry_count": sfn.JsonPath.string_at("$$.State.RetryCount"),
            }
        ),
        {
            "batch_id": sfn.JsonPath.string_at("$.Payload.batch_id"),
            "lane_id": sfn.JsonPath.string_at("$.Payload.lane_id"),
            "results_key": sfn.JsonPath.string_at("$.Payload.results_key"),
            "pages": sfn.JsonPath.string_at("$.Payload.pages"),
        },
    )
    _add_retry(crawl, CRAWL_BATCH_RETRY)
    record_failure = sfn.Pass(
        scope,
        states.RECORD_FAILURE_DISTRIBUTED,
        parameters={
            "lane_id": sfn.JsonPath.string_at("$.lane_id"),
            "batch_index": sfn.JsonPath.string_at("$.batch_index"),
            "failure": {
                "error": sfn.JsonPath.string_at("$.error.Error"),
                "cause": sfn.JsonPath.string_at("$.error.Cause"),
            },
        },
    )
    crawl.add_catch(record_failure, errors=[sfn.Errors.ALL], result_path="$.error")

    last_index = Token.as_number(sfn.JsonPath.math_add(sfn.JsonPath.number_at("$.batch_count"), -1))
    plan_lane = sfn.Pass(
        scope,
        states.PLAN_LANE,
        parameters={
            "run_id": sfn.JsonPath.string_at("$.run_id"),
            "lane_id": sfn.JsonPath.string_at("$.lane_id"),
            "bucket": sfn.JsonPath.string_at("$.bucket"),
            "batches_prefix": sfn.JsonPath.string_at("$.batches_prefix"),
            "results_prefix": sfn.JsonPath.string_at("$.results_prefix"),
            # at most 1,000 items: ListPages keeps a lane within 1,000 batches
            "indexes": sfn.JsonPath.array_range(0, last_index, 1),
        },
    )
    index = sfn.JsonPath.string_at("$$.Map.Item.Value")
    crawl_lane = sfn.Map(
        scope,
        states.CRAWL_LANE_DISTRIBUTED,
        max_concurrency=1,  # a lane's batches one after another: its hosts' limits hold
        items_path="$.indexes",
        item_selector={
            "run_id": sfn.JsonPath.string_at("$.run_id"),
            "lane_id": sfn.JsonPath.string_at("$.lane_id"),
            "batch_index": index,
            "batch_location": {
                "bucket": sfn.JsonPath.string_at("$.bucket"),
                "key": sfn.JsonPath.format(
                    "{}{}.json", sfn.JsonPath.string_at("$.batches_prefix"), index
                ),
            },
            "results_location": {
                "bucket": sfn.JsonPath.string_at("$.bucket"),
                "key": sfn.JsonPath.format(
                    "{}{}/{}.json",
                    sfn.JsonPath.string_at("$.results_prefix"),
                    sfn.JsonPath.string_at("$.lane_id"),
                    index,
                ),
            },
        },
    )
    crawl_lane.item_processor(crawl)
    return plan_lane.next(crawl_lane)


def build_definition(
    scope: Construct,
    *,
    functions: WorkflowFunctions,
    bucket: s3.IBucket,
    settings: WorkflowSettings,
) -> sfn.IChainable:
    list_pages = _lambda_task(
        scope,
        states.LIST_PAGES,
        functions.list_pages,
        sfn.TaskInput.from_object(
            {
                "input": sfn.JsonPath.string_at("$"),
                "execution": sfn.JsonPath.string_at("$$.Execution.Name"),
                "started_at": sfn.JsonPath.string_at("$$.Execution.StartTime"),
                # the Maps' concurrency bounds the lanes ListPages plans
                "map_concurrency": {
                    "inline": settings.max_concurrency,
                    "distributed": settings.distributed_max_concurrency,
                },
            }
        ),
        {
            "run": sfn.JsonPath.string_at("$.Payload.run"),
            "lanes": sfn.JsonPath.string_at("$.Payload.lanes"),
        },
        result_path="$",
    )
    _add_retry(list_pages, SERVICE_RETRY)

    explain_invalid_input = sfn.Pass(
        scope,
        states.EXPLAIN_INVALID_INPUT,
        parameters={
            "message": sfn.JsonPath.string_to_json(sfn.JsonPath.string_at("$.error.Cause"))
        },
    )
    invalid_input = sfn.Fail(
        scope, states.INVALID_INPUT, error="InvalidInput", cause_path="$.message.errorMessage"
    )
    list_pages.add_catch(
        explain_invalid_input.next(invalid_input),
        errors=[INVALID_INPUT_ERROR],
        result_path="$.error",
    )

    crawl_pages = sfn.Map(
        scope,
        states.CRAWL_PAGES,
        max_concurrency=settings.max_concurrency,
        items_path="$.lanes",
        item_selector={
            "run_id": sfn.JsonPath.string_at("$.run.run_id"),
            "lane_id": sfn.JsonPath.string_at("$$.Map.Item.Value.lane_id"),
            "batches": sfn.JsonPath.string_at("$$.Map.Item.Value.batches"),
        },
        result_path="$.lanes",
    )
    crawl_pages.item_processor(_inline_crawl(scope, functions.crawl_batch))

    crawl_pages_distributed = sfn.DistributedMap(
        scope,
        states.CRAWL_PAGES_DISTRIBUTED,
        label=MAP_RUN_LABEL,
        # STANDARD: a big host's lane runs its batches one after another, longer than an
        # EXPRESS child's 5 minutes, and per-host limits forbid splitting it.
        map_execution_type=sfn.StateMachineType.STANDARD,
        max_concurrency=settings.distributed_max_concurrency,
        tolerated_failure_percentage=settings.tolerated_failure_percentage,
        item_reader=sfn.S3JsonItemReader(
            bucket_name_path=sfn.JsonPath.string_at("$.run.lanes_location.bucket"),
            key=sfn.JsonPath.string_at("$.run.lanes_location.key"),
        ),
        result_writer_v2=sfn.ResultWriterV2(
            bucket=bucket, prefix=sfn.JsonPath.string_at("$.run.results_prefix")
        ),
        item_selector={
            "run_id": sfn.JsonPath.string_at("$.run.run_id"),
            "bucket": sfn.JsonPath.string_at("$.run.lanes_location.bucket"),
            "results_prefix": sfn.JsonPath.string_at("$.run.results_prefix"),
            "lane_id": sfn.JsonPath.string_at("$$.Map.Item.Value.lane_id"),
            "batch_count": sfn.JsonPath.string_at("$$.Map.Item.Value.batch_count"),
            "batches_prefix": sfn.JsonPath.string_at("$$.Map.Item.Value.batches_prefix"),
        },
        result_selector={"result_writer": sfn.JsonPath.string_at("$.ResultWriterDetails")},
        result_path="$.lanes",
    )
    # DistributedMap sets ProcessorConfig itself (Mode DISTRIBUTED, map_execution_type above).
    crawl_pages_distributed.item_processor(_distributed_crawl(scope, functions.crawl_batch))

    store_and_notify = _lambda_task(
        scope,
        states.STORE_AND_NOTIFY,
        functions.store_and_notify,
        sfn.TaskInput.from_json_path_at("$"),
        {"summary": sfn.JsonPath.string_at("$.Payload")},
        output_path="$.summary",
    )
    _add_retry(store_and_notify, SERVICE_RETRY)

    # A Map that fails as a whole (tolerance exceeded, a child timed out, ...) still hands the
    # run to StoreAndNotify: it stores what was crawled and fails the rest with this error.
    for crawl_map in (crawl_pages, crawl_pages_distributed):
        crawl_map.add_catch(store_and_notify, errors=[sfn.Errors.ALL], result_path="$.map_error")

    # The summary is in the state (StoreAndNotify's output): the Cause says what went wrong.
    run_failed = sfn.Fail(
        scope,
        states.RUN_FAILED,
        error=FAILURE_RATIO_EXCEEDED,
        cause_path=sfn.JsonPath.format(
            f"{{}} of {{}} pages failed ({{}} skipped by robots.txt): failure ratio {{}} is over"
            f" the limit {settings.failure_ratio:g}; the run summary was stored and published",
            sfn.JsonPath.string_at("$.failed"),
            sfn.JsonPath.string_at("$.total"),
            sfn.JsonPath.string_at("$.skipped"),
            sfn.JsonPath.string_at("$.failure_ratio"),
        ),
    )
    succeeded = sfn.Succeed(scope, states.SUCCEEDED)
    check_failure_ratio = (
        sfn.Choice(scope, states.CHECK_FAILURE_RATIO)
        .when(
            sfn.Condition.number_greater_than("$.failure_ratio", settings.failure_ratio),
            run_failed,
        )
        .otherwise(succeeded)
    )
    store_and_notify.next(check_failure_ratio)
    crawl_pages.next(store_and_notify)
    crawl_pages_distributed.next(store_and_notify)

    choose_mode = (
        sfn.Choice(scope, states.CHOOSE_MODE)
        .when(sfn.Condition.string_equals("$.run.mode", "distributed"), crawl_pages_distributed)
        .otherwise(crawl_pages)
    )
    return list_pages.next(choose_mode)
