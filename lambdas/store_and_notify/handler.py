"""StoreAndNotify Lambda: wires settings, the store, the notifier and S3 to the core.

They are built on the first invocation and reused while the Lambda stays warm.
"""

from __future__ import annotations

import functools
from typing import Any

from lambdas.common.models import RunSummary
from lambdas.common.notifier import open_notifier
from lambdas.common.observability import MetricUnit, logger, metrics
from lambdas.common.settings import Settings
from lambdas.common.store import open_store
from lambdas.store_and_notify.results import S3ResultReader
from lambdas.store_and_notify.storing import StoringContext, store_and_notify


@functools.cache
def storing_context() -> StoringContext:
    settings = Settings.from_env(function="store_and_notify")
    return StoringContext(
        store=open_store(settings), notifier=open_notifier(settings), reader=S3ResultReader()
    )


@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> RunSummary:
    run = event.get("run") if isinstance(event, dict) else None
    if isinstance(run, dict) and isinstance(run.get("run_id"), str):
        logger.append_keys(run_id=run["run_id"])
    outcome = store_and_notify(event, storing_context())
    summary = outcome.summary
    for name in ("total", "ok", "failed", "skipped", "new", "changed", "unchanged"):
        metrics.add_metric(name=f"Pages_{name}", unit=MetricUnit.Count, value=summary[name])
    logger.info(
        "run stored",
        extra={"store_writes": outcome.store_writes, "failed": summary["failed"]},
    )
    return summary
