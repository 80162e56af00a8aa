"""ListPages: from the execution input to the batches CrawlBatch will crawl.

validate -> resolve the source -> canonicalize + dedupe -> attach previous state and the
robots.txt verdict (read once per origin per run) -> plan lanes of batches (lanes.py: per-host
limits per run) -> choose inline or distributed -> (distributed) write the lanes to S3.
Everything but the last step and the store read is pure.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass
from typing import TypeVar

from lambdas.common import env
from lambdas.common.errors import ConfigError, InvalidInputError
from lambdas.common.models import (
    Lane,
    LaneRef,
    ListPagesOutput,
    Mode,
    PageTask,
    RobotsVerdict,
    RunInfo,
    S3Location,
)
from lambdas.common.observability import logger
from lambdas.common.settings import Settings
from lambdas.common.store import RunLeases, Store, parse_instant
from lambdas.common.urls import DEFAULT_TRACKING_PARAMS, UrlError, canonicalize
from lambdas.list_pages.execution_input import (
    ExecutionRequest,
    describe_type,
    parse_execution_input,
)
from lambdas.list_pages.lanes import LaneSettings, batch_count, plan_lanes
from lambdas.list_pages.problems import ProblemLog, describe_exception, quoted
from lambdas.list_pages.robots_check import RobotsChecker
from lambdas.list_pages.run_lease import lease_for, skipped_output
from lambdas.list_pages.sources import Candidate, ObjectStore, SitemapFetcher, candidates

# Step Functions caps a state's input/output at 256 KiB, and an overflow (States.DataLimitExceeded)
# cannot be caught. The lanes go in; after the inline Map the results take their place, and a
# result is bigger than a task, so both are budgeted, from what they really weigh.
INLINE_BATCHES_LIMIT_BYTES = 150 * 1024
INLINE_RESULTS_LIMIT_BYTES = 240 * 1024
# A PageResult's keys, numbers, hashes (field_hashes included), dates and content type weigh
# 746 bytes as compact JSON (measured on a result with every field set); 250 more for a typical
# title, description and h1 (capped at 200/300/200 characters by CrawlBatch).
RESULT_BYTES_PER_PAGE = 1000
URL_COPIES_PER_RESULT = 3  # url, final_url, canonical
BATCH_RESULT_BYTES = 40  # {"batch_id":..,"results":[..]} around a batch's results, and commas
# lanes.json and the batch objects are written concurrently (each PutObject waits on S3).
WRITE_THREADS = 16

T = TypeVar("T")


@dataclass(frozen=True)
class MapConcurrency:
    """The Maps' MaxConcurrency, sent by the state machine: no more lanes than can run at once."""

    inline: int = 10
    distributed: int = 100


@dataclass(frozen=True)
class ListingContext:
    settings: Settings
    store: Store
    fetch_sitemap: SitemapFetcher
    objects: ObjectStore
    check_robots: RobotsChecker | None = None  # None: CrawlBatch reads robots.txt itself
    # The run lease (run_lease.py); None: no overlap check (the listing alone, in tests).
    leases: RunLeases | None = None
    clock: Callable[[], float] = time.time


@dataclass(frozen=True)
class RunEvent:
    run_id: str
    started_at: str
    execution_input: object
    map_concurrency: MapConcurrency = MapConcurrency()


def _concurrency(value: object, field: str, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(field, "must be a whole number >= 1 (the Map's MaxConcurrency)")
    return value


def parse_map_concurrency(value: object) -> MapConcurrency:
    """The event's map_concurrency; absent (a direct invocation): MapConcurrency's defaults."""
    if value is None:
        return MapConcurrency()
    if not isinstance(value, Mapping):
        raise InvalidInputError("map_concurrency", "must be {'inline': n, 'distributed': n}")
    default = MapConcurrency()
    return MapConcurrency(
        inline=_concurrency(value.get("inline"), "map_concurrency.inline", default.inline),
        distributed=_concurrency(
            value.get("distributed"), "map_concurrency.distributed", default.distributed
        ),
    )


def parse_event(event: object) -> RunEvent:
    """The ListPages task's event: {"input", "execution", "started_at", "map_concurrency"}."""
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
    return RunEvent(
        run_id=run_id,
        started_at=started_at,
        execution_input=event.get("input", {}),
        map_concurrency=parse_map_concurrency(event.get("map_concurrency")),
    )


def _canonical(candidate: Candidate, drop: frozenset[str]) -> str:
    """The candidate's canonical URL; InvalidInputError (naming the entry) if it has none."""
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
    return url


def _sitemap_entry(candidate: Candidate, drop: frozenset[str], problems: ProblemLog) -> str | None:
    """A sitemap entry's canonical URL, or None after recording why it is left out."""
    try:
        return _canonical(candidate, drop)
    except InvalidInputError as exc:
        reason = exc.problem.removeprefix(candidate.where)
    except Exception as exc:  # whatever else a hostile <loc> provokes stays with the entry
        reason = describe_exception(exc)
    value = candidate.value if isinstance(candidate.value, str) else repr(candidate.value)
    where = candidate.source or candidate.field
    problems.add(where, f"entry {candidate.entry} ({quoted(value)}): {reason}")
    return None


def canonical_pages(
    found: Iterable[Candidate],
    *,
    tracking_params: Iterable[str],
    max_pages: int,
    source_field: str,
    problems: ProblemLog | None = None,
) -> tuple[list[str], int]:
    """Canonical URLs in first-seen order, and how many duplicates were dropped.

    A bad entry of the user's own list is invalid input; a bad sitemap entry (one with a
    `source`) is recorded in `problems` and left out.
    """
    log = problems if problems is not None else ProblemLog()
    drop = frozenset(tracking_params)
    unique: dict[str, None] = {}
    duplicates = 0
    for candidate in found:
        if candidate.source is None:
            url: str | None = _canonical(candidate, drop)
        else:
            url = _sitemap_entry(candidate, drop, log)
        if url is None:
            continue
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
        if log.count:
            raise InvalidInputError(
                source_field, f"lists no page that can be crawled ({log.summary_text()})"
            )
        raise InvalidInputError(source_field, "lists no pages")
    return list(unique), duplicates


def robots_verdicts(check: RobotsChecker | None, urls: Sequence[str]) -> dict[str, RobotsVerdict]:
    """The pages' robots.txt verdicts. The checker contains each origin's failure itself; if
    it still raises, no page gets a verdict and CrawlBatch reads robots.txt (RFC 9309's rules
    are applied there): a robots.txt problem never fails ListPages."""
    if check is None:
        return {}
    try:
        return check(urls)
    except Exception:
        logger.exception("robots.txt check failed: CrawlBatch reads robots.txt for every page")
        return {}


def compact_json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def estimated_results_bytes(lanes: Sequence[Lane]) -> int:
    """What the inline Map's output (every lane's batch results) weighs in the state."""
    total = 0
    for lane in lanes:
        for batch in lane["batches"]:
            total += BATCH_RESULT_BYTES
            for page in batch["pages"]:
                url_bytes = len(compact_json(page["url"]))
                total += RESULT_BYTES_PER_PAGE + URL_COPIES_PER_RESULT * url_bytes
    return total


def choose_mode(page_count: int, threshold: int, batches_bytes: int, results_bytes: int) -> Mode:
    if page_count > threshold:
        return "distributed"
    if batches_bytes > INLINE_BATCHES_LIMIT_BYTES or results_bytes > INLINE_RESULTS_LIMIT_BYTES:
        return "distributed"
    return "inline"


def run_prefix(run_id: str) -> str:
    return f"runs/{run_id}/"


def lanes_key(run_id: str) -> str:
    return f"{run_prefix(run_id)}lanes.json"


def batches_prefix(run_id: str, lane_id: int) -> str:
    """Batch i of the lane is f"{batches_prefix}{i}.json"."""
    return f"{run_prefix(run_id)}lanes/{lane_id}/"


def results_prefix(run_id: str) -> str:
    """CrawlBatch writes batch i of lane l to f"{results_prefix}{l}/{i}.json"; ResultWriter too."""
    return f"{run_prefix(run_id)}results/"


def write_lanes(
    objects: ObjectStore, bucket: str, run_id: str, lanes: Sequence[Lane]
) -> S3Location:
    """lanes.json (the LaneRefs ItemReader reads) and one object per batch; lanes.json last."""
    refs = [
        LaneRef(
            lane_id=lane["lane_id"],
            batch_count=len(lane["batches"]),
            batches_prefix=batches_prefix(run_id, lane["lane_id"]),
        )
        for lane in lanes
    ]
    uploads = (
        (f"{ref['batches_prefix']}{index}.json", compact_json(batch))
        for ref, lane in zip(refs, lanes, strict=True)
        for index, batch in enumerate(lane["batches"])
    )

    def put(upload: tuple[str, bytes]) -> None:
        objects.put_bytes(bucket, upload[0], upload[1], "application/json")

    put_all(put, uploads, WRITE_THREADS)
    location = S3Location(bucket=bucket, key=lanes_key(run_id))
    put((location["key"], compact_json(refs)))
    return location


def put_all(put: Callable[[T], None], uploads: Iterable[T], threads: int) -> None:
    """put(upload) for every upload on `threads` threads; the first failure raises.

    At most 2 x threads uploads are made ahead of their PUT, so a run's batch bodies are
    encoded as they go out instead of all held at once (ThreadPoolExecutor.map takes them all).
    """
    with ThreadPoolExecutor(max_workers=threads) as pool:
        pending: set[Future[None]] = set()
        for upload in uploads:
            if len(pending) >= 2 * threads:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for finished in done:
                    finished.result()
            pending.add(pool.submit(put, upload))
        for finished in as_completed(pending):
            finished.result()


def list_pages(event: object, context: ListingContext) -> ListPagesOutput:
    """The ListPages task: the run's description and its lanes (inline) or their S3 location.

    With `context.leases`, the run first takes the run lease (run_lease.py): a run started
    while another one holds it is skipped; a run that fails here gives the lease back.
    """
    run = parse_event(event)
    request = parse_execution_input(run.execution_input, context.settings)
    leases = context.leases
    if leases is None:
        return _list_run(run, request, context)
    wanted = lease_for(run.run_id, run.started_at, context.settings.execution_timeout_minutes)
    holder = leases.acquire_run_lease(wanted, context.clock())
    if holder["run_id"] != run.run_id:
        logger.warning("run skipped: another run holds the run lease", extra={"holder": holder})
        return skipped_output(run.run_id, run.started_at, holder)
    try:
        return _list_run(run, request, context)
    except BaseException:
        try:
            leases.release_run_lease(run.run_id)  # the run ends here: let the next one run
        except Exception:
            logger.exception("could not release the run lease (it expires by itself)")
        raise


def _list_run(run: RunEvent, request: ExecutionRequest, context: ListingContext) -> ListPagesOutput:
    settings = context.settings
    problems = ProblemLog()
    found = candidates(
        request.source,
        fetch_sitemap=context.fetch_sitemap,
        objects=context.objects,
        problems=problems,
    )
    urls, duplicates = canonical_pages(
        found,
        tracking_params=DEFAULT_TRACKING_PARAMS | set(settings.tracking_params),
        max_pages=settings.max_pages,
        source_field=request.source_field,
        problems=problems,
    )
    previous = context.store.previous_states(urls)
    tasks = [PageTask(url=url, previous=previous.get(url)) for url in urls]
    verdicts = robots_verdicts(context.check_robots, urls)
    for task in tasks:
        if task["url"] in verdicts:
            task["robots"] = verdicts[task["url"]]

    def plan(batch_size: int, max_lanes: int) -> list[Lane]:
        return plan_lanes(
            tasks,
            LaneSettings(
                batch_size=batch_size,
                per_host_concurrency=settings.per_host_concurrency,
                per_host_delay=settings.per_host_delay,
                max_lanes=max_lanes,
            ),
        )

    lanes: list[Lane] = []
    mode: Mode = "distributed"  # over the threshold: the inline plan is never made
    if len(urls) <= request.distributed_threshold:
        lanes = plan(request.batch_size, run.map_concurrency.inline)
        mode = choose_mode(
            len(urls),
            request.distributed_threshold,
            len(compact_json(lanes)),
            estimated_results_bytes(lanes),
        )
    location: S3Location | None = None
    if mode == "distributed":
        if not settings.bucket_name:
            raise ConfigError(env.BUCKET_NAME, "not set: distributed runs write their lanes to S3")
        lanes = plan(request.distributed_batch_size, run.map_concurrency.distributed)
        location = write_lanes(context.objects, settings.bucket_name, run.run_id, lanes)
    info = RunInfo(
        run_id=run.run_id,
        started_at=run.started_at,
        mode=mode,
        page_count=len(urls),
        batch_count=batch_count(lanes),
        duplicates_dropped=duplicates,
        batches_location=None,
        results_prefix=results_prefix(run.run_id) if mode == "distributed" else None,
        lane_count=len(lanes),
        lanes_location=location,
    )
    report = problems.report()
    if report is not None:
        info["source_problems"] = report
    return ListPagesOutput(run=info, lanes=lanes if mode == "inline" else [])
