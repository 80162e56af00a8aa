"""CrawlBatch's two event forms, validated: one clear InvalidInputError naming the first bad field.

Inline: the Batch itself, `{"run_id", "batch_id", "lane_id", "pages", "hosts", "retry_count"}`
(lane_id and hosts absent in events from before lanes). Distributed: where the Batch is,
`{"run_id", "lane_id", "batch_index", "batch_location", "results_location", "retry_count"}`;
the Batch read from batch_location is validated by the same rules as an inline one.
"""

from __future__ import annotations

import math
from typing import Any

from lambdas.common.errors import InvalidInputError
from lambdas.common.models import (
    CrawlBatchDistributedInput,
    CrawlBatchInput,
    HostLimit,
    PageTask,
    PreviousState,
    RobotsVerdict,
    S3Location,
)

MAX_PAGES_PER_BATCH = 1000
MAX_HOST_CONCURRENCY = 64  # per_host_concurrency's own upper bound


def _whole(value: Any, field: str, *, low: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise InvalidInputError(field, f"must be a whole number >= {low}")
    return value


def _previous_state(value: Any, field: str) -> PreviousState | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidInputError(field, "must be an object or null")
    state: dict[str, str | None] = {}
    for key in ("etag", "last_modified", "content_hash"):
        item = value.get(key)
        if item is not None and not isinstance(item, str):
            raise InvalidInputError(f"{field}.{key}", "must be a string or null")
        state[key] = item
    previous = PreviousState(
        etag=state["etag"], last_modified=state["last_modified"], content_hash=state["content_hash"]
    )
    fields = value.get("fingerprints")
    if fields is not None:
        if not isinstance(fields, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in fields.items()
        ):
            raise InvalidInputError(f"{field}.fingerprints", "must be an object of name -> hash")
        previous["fingerprints"] = dict(fields)
    return previous


def _robots_verdict(value: Any, field: str) -> RobotsVerdict:
    if not isinstance(value, dict) or not isinstance(value.get("allowed"), bool):
        raise InvalidInputError(field, "must be an object with allowed (true or false)")
    reason, delay = value.get("reason"), value.get("crawl_delay")
    if reason is not None and not isinstance(reason, str):
        raise InvalidInputError(f"{field}.reason", "must be a string or null")
    if delay is not None and (not isinstance(delay, int | float) or isinstance(delay, bool)):
        raise InvalidInputError(f"{field}.crawl_delay", "must be a number or null")
    return RobotsVerdict(
        allowed=value["allowed"], reason=reason, crawl_delay=None if delay is None else float(delay)
    )


def _pages(pages: Any) -> list[PageTask]:
    if not isinstance(pages, list) or not pages:
        raise InvalidInputError("pages", "must be a non-empty list of {url, previous}")
    if len(pages) > MAX_PAGES_PER_BATCH:
        raise InvalidInputError("pages", f"at most {MAX_PAGES_PER_BATCH} pages per batch")
    tasks: list[PageTask] = []
    for index, page in enumerate(pages):
        if not isinstance(page, dict):
            raise InvalidInputError(f"pages[{index}]", "must be an object with url and previous")
        url = page.get("url")
        if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
            raise InvalidInputError(f"pages[{index}].url", "must be an http or https URL")
        previous = _previous_state(page.get("previous"), f"pages[{index}].previous")
        task = PageTask(url=url, previous=previous)
        if page.get("robots") is not None:
            task["robots"] = _robots_verdict(page["robots"], f"pages[{index}].robots")
        tasks.append(task)
    return tasks


def _host_limit(value: Any, field: str) -> HostLimit:
    if not isinstance(value, dict):
        raise InvalidInputError(field, "must be an object with concurrency and delay_s")
    concurrency = value.get("concurrency")
    if (
        not isinstance(concurrency, int)
        or isinstance(concurrency, bool)
        or not 1 <= concurrency <= MAX_HOST_CONCURRENCY
    ):
        raise InvalidInputError(
            f"{field}.concurrency", f"must be a whole number from 1 to {MAX_HOST_CONCURRENCY}"
        )
    delay = value.get("delay_s")
    if (
        not isinstance(delay, int | float)
        or isinstance(delay, bool)
        or not math.isfinite(delay)
        or delay < 0
    ):
        raise InvalidInputError(f"{field}.delay_s", "must be a number of seconds >= 0")
    return HostLimit(concurrency=concurrency, delay_s=float(delay))


def _hosts(value: Any) -> dict[str, HostLimit]:
    if not isinstance(value, dict):
        raise InvalidInputError("hosts", "must be an object of host key -> {concurrency, delay_s}")
    hosts: dict[str, HostLimit] = {}
    for key, limit in value.items():
        if not isinstance(key, str) or "://" not in key:
            raise InvalidInputError("hosts", f"keys must be scheme://host[:port], got {key!r}")
        hosts[key] = _host_limit(limit, f"hosts[{key!r}]")
    return hosts


def _retry_count(event: dict[str, Any]) -> int | None:
    value = event.get("retry_count")
    return None if value is None else _whole(value, "retry_count")


def parse_event(event: Any) -> CrawlBatchInput:
    """Validate an inline CrawlBatch event (or a Batch read from S3)."""
    if not isinstance(event, dict):
        raise InvalidInputError("event", f"must be an object, got {type(event).__name__}")
    run_id = event.get("run_id")
    if not isinstance(run_id, str) or not run_id.strip():
        raise InvalidInputError("run_id", "must be a non-empty string")
    batch_id = _whole(event.get("batch_id"), "batch_id")
    parsed = CrawlBatchInput(run_id=run_id, batch_id=batch_id, pages=_pages(event.get("pages")))
    if event.get("lane_id") is not None:
        parsed["lane_id"] = _whole(event["lane_id"], "lane_id")
    if event.get("hosts") is not None:
        parsed["hosts"] = _hosts(event["hosts"])
    retry_count = _retry_count(event)
    if retry_count is not None:
        parsed["retry_count"] = retry_count
    return parsed


def is_distributed(event: Any) -> bool:
    """Whether the event names an S3 batch_location (CrawlBatchDistributed) instead of pages."""
    return isinstance(event, dict) and "batch_location" in event


def _location(value: Any, field: str) -> S3Location:
    if not isinstance(value, dict):
        raise InvalidInputError(field, "must be an object with bucket and key")
    for part in ("bucket", "key"):
        item = value.get(part)
        if not isinstance(item, str) or not item.strip():
            raise InvalidInputError(f"{field}.{part}", "must be a non-empty string")
    return S3Location(bucket=value["bucket"], key=value["key"])


def parse_distributed_event(event: Any) -> CrawlBatchDistributedInput:
    """Validate a CrawlBatchDistributed event (where the Batch is and where its result goes)."""
    if not isinstance(event, dict):
        raise InvalidInputError("event", f"must be an object, got {type(event).__name__}")
    run_id = event.get("run_id")
    if not isinstance(run_id, str) or not run_id.strip():
        raise InvalidInputError("run_id", "must be a non-empty string")
    parsed = CrawlBatchDistributedInput(
        run_id=run_id,
        lane_id=_whole(event.get("lane_id"), "lane_id"),
        batch_index=_whole(event.get("batch_index"), "batch_index"),
        batch_location=_location(event.get("batch_location"), "batch_location"),
        results_location=_location(event.get("results_location"), "results_location"),
    )
    retry_count = _retry_count(event)
    if retry_count is not None:
        parsed["retry_count"] = retry_count
    return parsed


def batch_from_object(data: Any, event: CrawlBatchDistributedInput) -> CrawlBatchInput:
    """The Batch stored at batch_location, as an inline event of this run and retry count."""
    where = f"s3://{event['batch_location']['bucket']}/{event['batch_location']['key']}"
    if not isinstance(data, dict):
        raise InvalidInputError(
            where, f"must hold a JSON object (a Batch), got {type(data).__name__}"
        )
    try:
        batch = parse_event({**data, "run_id": event["run_id"], "retry_count": None})
    except InvalidInputError as exc:
        raise InvalidInputError(f"{where}: {exc.field}", exc.problem) from None
    batch.setdefault("lane_id", event["lane_id"])
    if "retry_count" in event:
        batch["retry_count"] = event["retry_count"]
    return batch
