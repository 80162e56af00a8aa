"""CrawlBatch: crawl one batch of pages (thin: parse the event, run the core, shape the output)."""

from typing import Any

from lambdas.common.models import BatchResult
from lambdas.common.observability import MetricUnit, logger, metrics
from lambdas.common.settings import Settings
from lambdas.crawl_batch.core import (
    CrawlOptions,
    crawl_batch,
    parse_event,
    summarize,
    time_budget_from_remaining,
)


@metrics.log_metrics
def handler(event: Any, context: Any) -> BatchResult:
    batch = parse_event(event)
    logger.append_keys(run_id=batch["run_id"], batch_id=batch["batch_id"])
    settings = Settings.from_env()  # per invocation: the local engine may change it between runs
    remaining_ms = context.get_remaining_time_in_millis() if context is not None else None
    options = CrawlOptions(time_budget_s=time_budget_from_remaining(remaining_ms))
    result = crawl_batch(batch, settings, options)

    counts = summarize(result["results"])
    metrics.add_metric(name="PagesOk", unit=MetricUnit.Count, value=counts["ok"])
    metrics.add_metric(name="PagesFailed", unit=MetricUnit.Count, value=counts["failed"])
    metrics.add_metric(name="PagesSkipped", unit=MetricUnit.Count, value=counts["skipped"])
    metrics.add_metric(
        name="PagesChanged", unit=MetricUnit.Count, value=counts["new"] + counts["changed"]
    )
    metrics.add_metric(name="BytesFetched", unit=MetricUnit.Bytes, value=counts["bytes"])
    for page in result["results"]:
        if page["elapsed_ms"] is not None:
            metrics.add_metric(
                name="FetchLatency", unit=MetricUnit.Milliseconds, value=page["elapsed_ms"]
            )
    logger.info("batch crawled", extra={"pages": len(result["results"]), **counts})
    return result
