"""CrawlBatch: crawl one batch of pages (thin: parse the event, run the core, shape the output).

Two event forms: inline (the Batch in the event, the BatchResult returned) and distributed
(the Batch read from S3, the BatchResult written to S3, a small record returned).
"""

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from lambdas.common.errors import ConfigError
from lambdas.common.models import BatchResult, CrawlBatchDistributedOutput, PageResult
from lambdas.common.observability import MetricUnit, logger, metrics
from lambdas.common.settings import Settings
from lambdas.crawl_batch.budget import process_budget
from lambdas.crawl_batch.core import (
    CrawlOptions,
    crawl_batch,
    crawl_distributed_batch,
    summarize,
    time_budget_from_remaining,
)
from lambdas.crawl_batch.event import is_distributed, parse_distributed_event, parse_event
from lambdas.crawl_batch.notes import HostNotes
from lambdas.crawl_batch.objects import S3ObjectStore

# Powertools' Metrics keeps one metric set per process. The local engine runs many CrawlBatch
# invocations in threads of one process, so adding and flushing happen under one lock.
_METRICS_LOCK = threading.Lock()
_objects = S3ObjectStore()


def publish_metrics(results: Sequence[PageResult]) -> dict[str, int]:
    counts = dict(summarize(results))
    if is_metrics_disabled():  # POWERTOOLS_METRICS_DISABLED (the local engine): nothing to emit
        return counts
    with _METRICS_LOCK:
        metrics.add_metric(name="PagesOk", unit=MetricUnit.Count, value=counts["ok"])
        metrics.add_metric(name="PagesFailed", unit=MetricUnit.Count, value=counts["failed"])
        metrics.add_metric(name="PagesSkipped", unit=MetricUnit.Count, value=counts["skipped"])
        metrics.add_metric(
            name="PagesChanged", unit=MetricUnit.Count, value=counts["new"] + counts["changed"]
        )
        metrics.add_metric(name="BytesFetched", unit=MetricUnit.Bytes, value=counts["bytes"])
        for page in results:
            if page["elapsed_ms"] is not None:
                metrics.add_metric(
                    name="FetchLatency", unit=MetricUnit.Milliseconds, value=page["elapsed_ms"]
                )
        metrics.flush_metrics()
    return counts


@contextmanager
def host_notes_store(settings: Settings) -> Iterator[HostNotes | None]:
    """The store's host notes for one invocation (closed after it); None when no store is
    configured: the notes then live in this process only."""
    from lambdas.common.store import open_store

    try:
        store = open_store(settings)
    except ConfigError:
        logger.warning("no store configured: host notes stay in this process")
        yield None
        return
    try:
        yield store
    finally:
        close = getattr(store, "close", None)
        if callable(close):
            close()


def _report(result: BatchResult) -> None:
    counts = publish_metrics(result["results"])
    logger.info("batch crawled", extra={"pages": len(result["results"]), **counts})


def _memory_mb(context: Any) -> int | None:
    """The function's memory size from the invocation context (Lambda and the local engine
    both set memory_limit_in_mb); None when there is no usable one."""
    try:
        return int(getattr(context, "memory_limit_in_mb", None) or 0) or None
    except (TypeError, ValueError):
        return None


def handler(event: Any, context: Any) -> BatchResult | CrawlBatchDistributedOutput:
    # per invocation: the local engine may change it between runs
    settings = Settings.from_env(function="crawl_batch")
    remaining_ms = context.get_remaining_time_in_millis() if context is not None else None
    options = CrawlOptions(
        time_budget_s=time_budget_from_remaining(remaining_ms),
        # bodies in flight stay within a share of this function's memory (budget.py)
        budget=process_budget(_memory_mb(context)),
    )
    if is_distributed(event):
        located = parse_distributed_event(event)
        logger.append_keys(run_id=located["run_id"], lane_id=located["lane_id"])
        with host_notes_store(settings) as notes:
            options = replace(options, notes=notes)
            output, result = crawl_distributed_batch(located, settings, _objects, options)
        _report(result)
        return output
    batch = parse_event(event)
    logger.append_keys(run_id=batch["run_id"], batch_id=batch["batch_id"])
    with host_notes_store(settings) as notes:
        result = crawl_batch(batch, settings, replace(options, notes=notes))
    _report(result)
    return result
