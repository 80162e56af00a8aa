"""Crawling one batch (the pure core of CrawlBatch): its pages at once, within the lane's
per-host limits, the run's host notes and the process's memory budget; its result made to fit.

Modules, each one job (the arrows point down):
  event            the two event forms, validated
  core             one batch: gates, notes, budget, the pages at once, the batch-end spacing
  page             one page: robots, host slot, fetch, judge, in-handler retries, containment
  hosts            per-host gates (HostLimit, HostNote, spacing), redirect targets' slots
  notes            the run's host notes (protocol, an in-process fallback, 429/503 notes)
  budget           the process-wide memory budget (tickets, arrival order, deadlock-free)
  response_budget  what a response needs of it (the client's response hook)
  parse            bytes -> kind, fields, fingerprint
  results          PageResult builders; the batch result made to fit the payload limit
  objects          S3 JSON objects of the distributed form
  warm             the event loop and clients a warm container keeps
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import httpcore
import httpx

from lambdas.common.host_keys import host_key
from lambdas.common.models import (
    BatchResult,
    CrawlBatchDistributedInput,
    CrawlBatchDistributedOutput,
    CrawlBatchInput,
    HostLimit,
    HostNote,
    PageResult,
    PageTask,
)
from lambdas.common.observability import logger
from lambdas.common.safe_http import Resolver, make_async_client
from lambdas.common.settings import Settings
from lambdas.crawl_batch.budget import MemoryBudget, process_budget
from lambdas.crawl_batch.event import batch_from_object
from lambdas.crawl_batch.hosts import HostGates, batch_limits
from lambdas.crawl_batch.notes import HostNotes, ProcessHostNotes
from lambdas.crawl_batch.objects import ObjectStore
from lambdas.crawl_batch.page import BatchContext, crawl_page, describe
from lambdas.crawl_batch.parse import compile_selectors
from lambdas.crawl_batch.response_budget import add_budget_hook
from lambdas.crawl_batch.results import fitted
from lambdas.crawl_batch.warm import run_coroutine, warm_loop

DEFAULT_TIME_BUDGET_S = 840.0  # no Lambda context (local calls): 14 minutes

_process_notes = ProcessHostNotes()


@dataclass(frozen=True)
class CrawlOptions:
    """What an invocation knows besides the pages and settings."""

    retry_count: int = 0  # $$.State.RetryCount: attempts Step Functions already made
    time_budget_s: float = DEFAULT_TIME_BUDGET_S  # stop everything within this many seconds
    resolver: Resolver | None = None  # tests inject DNS answers
    network_backend: httpcore.AsyncNetworkBackend | None = None  # tests record connects
    notes: HostNotes | None = None  # the run's host notes (None: this process's own)
    budget: MemoryBudget | None = None  # None: the process's, from the function's memory size


async def crawl_pages(
    pages: Sequence[PageTask],
    settings: Settings,
    options: CrawlOptions | None = None,
    *,
    client: httpx.AsyncClient | None = None,
    run_id: str = "",
    hosts: Mapping[str, HostLimit] | None = None,
) -> list[PageResult]:
    """Crawl the pages concurrently; one PageResult per page, in input order.

    `client` is an already open client to crawl with (the warm one); without it the crawl
    opens and closes its own. `hosts` are the lane's limits (None: the settings'). Raises
    TransientCrawlError only for a one-page batch whose page failed transiently, and
    ConfigError when a configured selector is not valid CSS.
    """
    options = options or CrawlOptions()
    if client is not None:
        return await _crawl_with(client, pages, settings, options, run_id, hosts)
    keys = {host_key(task["url"]) for task in pages}
    connections = max(10, min(200, len(keys) * (settings.per_host_concurrency + 1)))
    async with make_async_client(
        settings,
        resolver=options.resolver,
        max_connections=connections,
        network_backend=options.network_backend,
    ) as own_client:
        add_budget_hook(own_client)
        return await _crawl_with(own_client, pages, settings, options, run_id, hosts)


async def _crawl_with(
    client: httpx.AsyncClient,
    pages: Sequence[PageTask],
    settings: Settings,
    options: CrawlOptions,
    run_id: str,
    hosts: Mapping[str, HostLimit] | None,
) -> list[PageResult]:
    selectors = compile_selectors(settings.selectors)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(0.0, options.time_budget_s)
    notes = options.notes or _process_notes
    keys = sorted({host_key(task["url"]) for task in pages} | set(hosts or {}))
    known = await _notes_at_start(notes, run_id, keys)
    limits, fallback = batch_limits(
        hosts, concurrency=settings.per_host_concurrency, delay_s=settings.per_host_delay
    )
    batch = BatchContext(
        run_id=run_id,
        settings=settings,
        retry_count=options.retry_count,
        single_page=len(pages) == 1,
        deadline=deadline,
        client=client,
        selectors=selectors,
        gates=HostGates(limits, fallback, known),
        notes=notes,
        budget=options.budget or process_budget(),
    )
    try:
        return list(await asyncio.gather(*(crawl_page(batch, task) for task in pages)))
    finally:  # also before a TransientCrawlError: Step Functions' Retry is the lane's next start
        await _keep_spacing(batch.gates, deadline)


async def _notes_at_start(notes: HostNotes, run_id: str, keys: list[str]) -> dict[str, HostNote]:
    """The run's notes on the batch's hosts; none when the store cannot say (politeness
    notes are not worth failing a batch for: the servers still answer 429 if need be)."""
    try:
        return await asyncio.to_thread(notes.host_notes, run_id, keys)
    except Exception as exc:
        logger.warning("could not read host notes", extra={"error": describe(exc)})
        return {}


async def _keep_spacing(gates: HostGates, deadline: float) -> None:
    """Return no earlier than every spaced host's next start: the lane's next batch must not
    start a request to it early."""
    spacing_end = gates.spacing_end()
    if spacing_end is not None:
        wait = min(spacing_end, deadline) - asyncio.get_running_loop().time()
        if wait > 0:
            await asyncio.sleep(wait)


def crawl_batch(
    event: CrawlBatchInput, settings: Settings, options: CrawlOptions | None = None
) -> BatchResult:
    """The CrawlBatch state's work on a validated inline event (see event.parse_event)."""
    options = replace(options or CrawlOptions(), retry_count=event.get("retry_count", 0))
    pages, run_id, hosts = event["pages"], event["run_id"], event.get("hosts")
    if options.resolver is None and options.network_backend is None:
        warm = warm_loop()

        async def on_warm_client() -> list[PageResult]:
            async with warm.client(settings) as client:
                return await crawl_pages(
                    pages, settings, options, client=client, run_id=run_id, hosts=hosts
                )

        results = warm.run(on_warm_client())
    else:
        results = run_coroutine(crawl_pages(pages, settings, options, run_id=run_id, hosts=hosts))
    return fitted(event["batch_id"], results)


def crawl_distributed_batch(
    event: CrawlBatchDistributedInput,
    settings: Settings,
    objects: ObjectStore,
    options: CrawlOptions | None = None,
) -> tuple[CrawlBatchDistributedOutput, BatchResult]:
    """CrawlBatchDistributed: the Batch from batch_location, its BatchResult to
    results_location; returns the small record the state gets (lane outputs stay tiny) and
    the BatchResult written (for metrics)."""
    where, to = event["batch_location"], event["results_location"]
    batch = batch_from_object(objects.get_json(where["bucket"], where["key"]), event)
    result = crawl_batch(batch, settings, options)
    objects.put_json(to["bucket"], to["key"], result)
    output = CrawlBatchDistributedOutput(
        batch_id=result["batch_id"],
        lane_id=event["lane_id"],
        results_key=to["key"],
        pages=len(result["results"]),
    )
    summary = summarize(result["results"])
    output["counts"] = {k: summary[k] for k in ("ok", "failed", "skipped")}
    return output, result


def time_budget_from_remaining(remaining_ms: int | None) -> float:
    """Seconds the crawl may take: the Lambda's remaining time minus a safety margin."""
    if remaining_ms is None:
        return DEFAULT_TIME_BUDGET_S
    remaining = remaining_ms / 1000
    margin = min(5.0, max(0.5, remaining * 0.1))
    return max(0.0, remaining - margin)


def summarize(results: Sequence[PageResult]) -> Mapping[str, int]:
    """Counts for metrics and logs."""
    return {
        "ok": sum(1 for r in results if r["ok"]),
        "failed": sum(1 for r in results if r["outcome"] == "failed"),
        "skipped": sum(1 for r in results if r["outcome"] == "skipped"),
        "new": sum(1 for r in results if r["outcome"] == "new"),
        "changed": sum(1 for r in results if r["outcome"] == "changed"),
        "unchanged": sum(1 for r in results if r["outcome"] == "unchanged"),
        "bytes": sum(r["bytes"] or 0 for r in results),
    }
