"""ListPages Lambda: wires settings, the store, the sitemap fetcher and S3 to the core.

They are built on the first invocation and reused while the Lambda stays warm.
"""

from __future__ import annotations

import functools
from typing import Any

from lambdas.common.models import ListPagesOutput
from lambdas.common.observability import logger
from lambdas.common.settings import Settings
from lambdas.common.store import open_store
from lambdas.list_pages.listing import ListingContext, list_pages
from lambdas.list_pages.robots_check import robots_checker
from lambdas.list_pages.sources import S3Objects, safe_http_fetcher


@functools.cache
def listing_context() -> ListingContext:
    settings = Settings.from_env(function="list_pages")
    store = open_store(settings)
    return ListingContext(
        settings=settings,
        store=store,
        fetch_sitemap=safe_http_fetcher(settings),
        objects=S3Objects(),
        check_robots=robots_checker(settings),
        leases=store,
    )


def handler(event: dict[str, Any], context: Any) -> ListPagesOutput:
    if isinstance(event, dict) and isinstance(event.get("execution"), str):
        logger.append_keys(run_id=event["execution"])
    output = list_pages(event, listing_context())
    run = output["run"]
    logger.info(
        "pages listed",
        extra={
            "mode": run["mode"],
            "page_count": run["page_count"],
            "batch_count": run["batch_count"],
            "lane_count": run.get("lane_count"),
            "duplicates_dropped": run["duplicates_dropped"],
            "source_problems": run.get("source_problems", {}).get("count", 0),
            "skipped_reason": run.get("skipped_reason"),
        },
    )
    return output
