"""CrawlBatch: crawl one batch of pages (thin: parse the event, run the core, shape the output)."""

import threading
from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from lambdas.common.models import BatchResult, PageResult
from lambdas.common.observability import MetricUnit, logger, metrics
from lambdas.common.settings import Settings
from lambdas.crawl_batch.core import (
    CrawlOptions,
    crawl_batch,
    parse_event,
    summarize,
    time_budget_from_remaining,
)
from lambdas.crawl_batch.s3_batches import crawl_s3_batch, is_distributed_event

# Powertools' Metrics keeps one metric set per process. The local engine runs many CrawlBatch
# invocations in threads of one process, so adding and flushing happen under one lock.
_METRICS_LOCK = threading.Lock()


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


def handler(event: Any, context: Any) -> Any:
    if is_distributed_event(event):  # CrawlBatchDistributed: the batch and its result in S3
        return crawl_s3_batch(event, context, crawl_inline)
    return crawl_inline(event, context)


def crawl_inline(event: Any, context: Any) -> BatchResult:
    batch = parse_event(event)
    logger.append_keys(run_id=batch["run_id"], batch_id=batch["batch_id"])
    # per invocation: the local engine may change it between runs
    settings = Settings.from_env(function="crawl_batch")
    remaining_ms = context.get_remaining_time_in_millis() if context is not None else None
    options = CrawlOptions(time_budget_s=time_budget_from_remaining(remaining_ms))
    result = crawl_batch(batch, settings, options)
    counts = publish_metrics(result["results"])
    logger.info("batch crawled", extra={"pages": len(result["results"]), **counts})
    return result
