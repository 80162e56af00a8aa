"""ListPages: from the execution input to the batches CrawlBatch will crawl.

validate -> resolve the source -> canonicalize + dedupe -> attach previous state and the
robots.txt verdict (read once per origin per run) -> batch
(hosts interleaved) -> choose inline or distributed -> (distributed) write batches to S3.
Everything but the last step and the store read is pure.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from lambdas.common import env
from lambdas.common.errors import ConfigError, InvalidInputError
from lambdas.common.models import Batch, ListPagesOutput, Mode, PageTask, RunInfo, S3Location
from lambdas.common.settings import Settings
from lambdas.common.store import Store, parse_instant
from lambdas.common.urls import DEFAULT_TRACKING_PARAMS, UrlError, canonicalize
from lambdas.list_pages.execution_input import describe_type, parse_execution_input
from lambdas.list_pages.robots_check import RobotsChecker
from lambdas.list_pages.sources import Candidate, ObjectStore, SitemapFetcher, candidates

# Step Functions caps a state's input/output at 256 KiB. The batches go in; after the inline
# Map the results take their place, and a result is bigger than a task, so both are budgeted.
INLINE_BATCHES_LIMIT_BYTES = 150 * 1024
INLINE_RESULTS_LIMIT_BYTES = 200 * 1024
RESULT_BYTES_PER_PAGE = 600  # a PageResult's keys, numbers, hash, dates, title, description
URL_COPIES_PER_RESULT = 3  # url, final_url, canonical


@dataclass(frozen=True)
class ListingContext:
    settings: Settings
    store: Store
    fetch_sitemap: SitemapFetcher
    objects: ObjectStore
    check_robots: RobotsChecker | None = None  # None: CrawlBatch reads robots.txt itself


@dataclass(frozen=True)
class RunEvent:
    run_id: str
    started_at: str
    execution_input: object


def parse_event(event: object) -> RunEvent:
    """The Lambda event the ListPages task sends: {"input", "execution", "started_at"}."""
    if not isinstance(event, Mapping):
        raise InvalidInputError("event", f"must be a JSON object, got {describe_type(event)}")
    run_id = event.get("execution")
    if not isinstance(run_id, str) or not run_id.strip():
        raise InvalidInputError("execution", "must be the execution name ($$.Execution.Name)")
    started_at = event.get("started_at")
    if not isinstance(started_at, str):
        raise InvalidInputError("started_at", "must be the ISO start time of the execution")
    try:
        parse_instant(started_at)
    except ValueError:
        raise InvalidInputError("started_at", f"{started_at!r} is not an ISO 8601 time") from None
    return RunEvent(run_id=run_id, started_at=started_at, execution_input=event.get("input", {}))


def canonical_pages(
    found: Iterable[Candidate],
    *,
    tracking_params: Iterable[str],
    max_pages: int,
    source_field: str,
) -> tuple[list[str], int]:
    """Canonical URLs in first-seen order, and how many duplicates were dropped."""
    drop = frozenset(tracking_params)
    unique: dict[str, None] = {}
    duplicates = 0
    for candidate in found:
        if not isinstance(candidate.value, str):
            kind = describe_type(candidate.value)
            raise InvalidInputError(candidate.field, f"{candidate.where}must be a URL, got {kind}")
        try:
            url = canonicalize(candidate.value, drop)
            url.encode("utf-8")  # a lone surrogate (JSON "\\ud800") cannot be stored or sent
        except UrlError as exc:
            raise InvalidInputError(candidate.field, f"{candidate.where}{exc}") from None
        except UnicodeEncodeError:
            problem = f"{candidate.where}is not valid Unicode text"
            raise InvalidInputError(candidate.field, problem) from None
        if url in unique:
            duplicates += 1
            continue
        unique[url] = None
        if len(unique) > max_pages:
            raise InvalidInputError(
                source_field,
                f"has more than {max_pages} pages (the max_pages setting, {env.MAX_PAGES})",
            )
    if not unique:
        raise InvalidInputError(source_field, "lists no pages")
    return list(unique), duplicates


def host_of(url: str) -> str:
    return urlsplit(url).netloc


def interleave_by_host(tasks: Sequence[PageTask]) -> list[PageTask]:
    """Round-robin over hosts (in first-seen order), so each batch mixes hosts."""
    queues: dict[str, deque[PageTask]] = {}
    for task in tasks:
        queues.setdefault(host_of(task["url"]), deque()).append(task)
    ordered: list[PageTask] = []
    while queues:
        for host in list(queues):
            queue = queues[host]
            ordered.append(queue.popleft())
            if not queue:
                del queues[host]
    return ordered


def make_batches(tasks: Sequence[PageTask], batch_size: int) -> list[Batch]:
    ordered = interleave_by_host(tasks)
    return [
        Batch(batch_id=number, pages=ordered[start : start + batch_size])
        for number, start in enumerate(range(0, len(ordered), batch_size))
    ]


def batches_json(batches: Sequence[Batch]) -> bytes:
    return json.dumps(batches, separators=(",", ":")).encode("utf-8")


def estimated_results_bytes(urls: Iterable[str]) -> int:
    """Roughly what the inline Map's results for these pages weigh in the state."""
    return sum(RESULT_BYTES_PER_PAGE + URL_COPIES_PER_RESULT * len(url) for url in urls)


def choose_mode(page_count: int, threshold: int, batches_bytes: int, results_bytes: int) -> Mode:
    if page_count > threshold:
        return "distributed"
    if batches_bytes > INLINE_BATCHES_LIMIT_BYTES or results_bytes > INLINE_RESULTS_LIMIT_BYTES:
        return "distributed"
    return "inline"


def batches_key(run_id: str) -> str:
    return f"runs/{run_id}/batches.json"


def results_prefix(run_id: str) -> str:
    return f"runs/{run_id}/results"


def list_pages(event: object, context: ListingContext) -> ListPagesOutput:
    """The ListPages task: the run's description and its batches (inline) or their S3 location."""
    settings = context.settings
    run = parse_event(event)
    request = parse_execution_input(run.execution_input, settings)
    found = candidates(request.source, fetch_sitemap=context.fetch_sitemap, objects=context.objects)
    urls, duplicates = canonical_pages(
        found,
        tracking_params=DEFAULT_TRACKING_PARAMS | set(settings.tracking_params),
        max_pages=settings.max_pages,
        source_field=request.source_field,
    )
    previous = context.store.previous_states(urls)
    tasks = [PageTask(url=url, previous=previous.get(url)) for url in urls]
    if context.check_robots is not None:
        verdicts = context.check_robots(urls)
        for task in tasks:
            if task["url"] in verdicts:
                task["robots"] = verdicts[task["url"]]
    batches: list[Batch] = []
    mode: Mode = "distributed"  # over the threshold: the inline batches are never built
    if len(urls) <= request.distributed_threshold:
        batches = make_batches(tasks, request.batch_size)
        mode = choose_mode(
            len(urls),
            request.distributed_threshold,
            len(batches_json(batches)),
            estimated_results_bytes(urls),
        )
    location: S3Location | None = None
    if mode == "distributed":
        if not settings.bucket_name:
            raise ConfigError(env.BUCKET_NAME, "not set: distributed runs write batches to S3")
        batches = make_batches(tasks, request.distributed_batch_size)
        body = batches_json(batches)
        location = S3Location(bucket=settings.bucket_name, key=batches_key(run.run_id))
        context.objects.put_bytes(location["bucket"], location["key"], body, "application/json")
    info = RunInfo(
        run_id=run.run_id,
        started_at=run.started_at,
        mode=mode,
        page_count=len(urls),
        batch_count=len(batches),
        duplicates_dropped=duplicates,
        batches_location=location,
        results_prefix=results_prefix(run.run_id) if mode == "distributed" else None,
    )
    return ListPagesOutput(run=info, batches=batches if mode == "inline" else [])
