"""Crawling one batch: concurrent, polite, incremental, and safe (the pure core of CrawlBatch).

The crawl runs on one asyncio loop kept in a daemon thread for the life of the process, with
one httpx.AsyncClient per client configuration (SSRF-guarded transport, shared connection
pool): what a warm Lambda container keeps between invocations, instead of a new loop, client
and TCP connection for every batch (that was most of a one-page batch's CPU). Tests that
inject a resolver or network backend get a client of their own, as before.

Per page: robots.txt verdict, per-host slot, conditional GET, then the response is judged:
- 2xx: parsed if HTML/XHTML (other types: content type, size and a hash of the bytes), and
  the content hash decides new / changed / unchanged against `previous`;
- 304: unchanged (validators and hash carried over from `previous`);
- 408, 429, 5xx, timeouts, connection errors: transient. A one-page batch raises
  TransientCrawlError so Step Functions' Retry (backoff + jitter) shows in the history,
  unless a short Retry-After can be honoured right here; a multi-page batch retries the page
  here (bounded) and then reports it failed;
- anything else (4xx, refused address, too large, too many redirects): a failed record.
Every page appears exactly once in the results, in input order.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import random
import threading
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpcore
import httpx

from lambdas.common.errors import InvalidInputError, TransientCrawlError
from lambdas.common.models import (
    BatchResult,
    CrawlBatchInput,
    Outcome,
    PageResult,
    PageTask,
    PreviousState,
    RobotsVerdict,
    unmeasured_result,
)
from lambdas.common.observability import logger
from lambdas.common.robots import ALLOW_ALL, RobotsCache, RobotsRules
from lambdas.common.safe_http import (
    FetchError,
    FetchLimits,
    HopRefusedError,
    Resolver,
    SafeResponse,
    fetch_async,
    is_transient_status,
    make_async_client,
    parse_retry_after,
)
from lambdas.common.settings import Settings
from lambdas.crawl_batch.hosts import HostGates, NoTimeLeftError, host_of
from lambdas.crawl_batch.parse import (
    Selector,
    bytes_hash,
    compile_selectors,
    decode_body,
    extract_page,
    is_html,
)

MAX_ATTEMPTS_IN_HANDLER = 3  # multi-page batches: first try + 2 retries
RETRY_BACKOFF_S = (0.5, 1.0)
MIN_ATTEMPT_S = 1.0  # do not start a retry with less time than this left
DEFAULT_TIME_BUDGET_S = 840.0  # no Lambda context (local calls): 14 minutes
MAX_PAGES_PER_BATCH = 1000
MAX_ERROR_CHARS = 300
WARM_POOL_CONNECTIONS = 200  # the most one batch's pool ever allowed (see crawl_pages)
# Idle pooled connections are dropped after this: short, so a connection a server closed while
# the container was frozen between invocations is rarely picked up again.
WARM_KEEPALIVE_S = 2.0

T = TypeVar("T")


# --------------------------------------------------------------------------- the event


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
    return PreviousState(
        etag=state["etag"], last_modified=state["last_modified"], content_hash=state["content_hash"]
    )


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


def parse_event(event: Any) -> CrawlBatchInput:
    """Validate a CrawlBatch event; raise InvalidInputError naming the first bad field."""
    if not isinstance(event, dict):
        raise InvalidInputError("event", f"must be an object, got {type(event).__name__}")
    run_id = event.get("run_id")
    if not isinstance(run_id, str) or not run_id.strip():
        raise InvalidInputError("run_id", "must be a non-empty string")
    batch_id = event.get("batch_id")
    if not isinstance(batch_id, int) or isinstance(batch_id, bool) or batch_id < 0:
        raise InvalidInputError("batch_id", "must be a whole number >= 0")
    pages = event.get("pages")
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
    parsed = CrawlBatchInput(run_id=run_id, batch_id=batch_id, pages=tasks)
    retry_count = event.get("retry_count")
    if retry_count is not None:
        if not isinstance(retry_count, int) or isinstance(retry_count, bool) or retry_count < 0:
            raise InvalidInputError("retry_count", "must be a whole number >= 0")
        parsed["retry_count"] = retry_count
    return parsed


# --------------------------------------------------------------------------- results


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def blank_result(url: str, *, attempts: int) -> PageResult:
    return unmeasured_result(url, error=None, attempts=attempts)


def failed_result(
    url: str,
    error: str,
    *,
    attempts: int,
    status: int | None = None,
    response: SafeResponse | None = None,
) -> PageResult:
    result = blank_result(url, attempts=attempts)
    result["error"] = error[:MAX_ERROR_CHARS]
    result["status"] = status
    if response is not None:
        result["final_url"] = response.url
        result["elapsed_ms"] = response.elapsed_ms
        result["redirects"] = response.redirects
        result["content_type"] = response.content_type
    return result


def skipped_result(url: str, reason: str, *, attempts: int) -> PageResult:
    result = blank_result(url, attempts=attempts)
    result["outcome"] = "skipped"
    result["error"] = reason[:MAX_ERROR_CHARS]
    return result


def _outcome(previous: PreviousState | None, content_hash: str) -> Outcome:
    if previous is None:
        return "new"
    return "unchanged" if previous.get("content_hash") == content_hash else "changed"


def success_result(
    task: PageTask,
    response: SafeResponse,
    selectors: tuple[Selector, ...],
    *,
    attempts: int,
) -> PageResult:
    """A 2xx response -> its PageResult (parsing HTML/XHTML, hashing the rest)."""
    result = blank_result(task["url"], attempts=attempts)
    body = response.body
    result["final_url"] = response.url
    result["ok"] = True
    result["status"] = response.status
    result["elapsed_ms"] = response.elapsed_ms
    result["bytes"] = len(body)
    result["content_type"] = response.content_type
    result["etag"] = response.headers.get("etag")
    result["last_modified"] = response.headers.get("last-modified")
    result["redirects"] = response.redirects
    result["fetched_at"] = _now_iso()
    if is_html(response.content_type, body):
        decoded = decode_body(body, response.headers.get("content-type"))
        facts = extract_page(decoded.text, response.url, selectors)
        result["title"] = facts.title
        result["description"] = facts.description
        result["canonical"] = facts.canonical
        result["h1"] = facts.h1
        result["links"] = facts.links
        result["words"] = facts.words
        result["content_hash"] = facts.content_hash
        result["extracted"] = facts.extracted
    else:
        result["content_hash"] = bytes_hash(body)
        result["extracted"] = {selector.name: None for selector in selectors}
    result["outcome"] = _outcome(task["previous"], result["content_hash"] or "")
    return result


def not_modified_result(task: PageTask, response: SafeResponse, *, attempts: int) -> PageResult:
    """A 304: unchanged; validators and hash carried over so the store keeps them."""
    previous = task["previous"] or PreviousState(etag=None, last_modified=None, content_hash=None)
    result = blank_result(task["url"], attempts=attempts)
    result["final_url"] = response.url
    result["ok"] = True
    result["outcome"] = "unchanged"
    result["status"] = 304
    result["elapsed_ms"] = response.elapsed_ms
    result["bytes"] = 0
    result["content_type"] = response.content_type
    result["content_hash"] = previous["content_hash"]
    result["etag"] = response.headers.get("etag") or previous["etag"]
    result["last_modified"] = response.headers.get("last-modified") or previous["last_modified"]
    result["redirects"] = response.redirects
    result["fetched_at"] = _now_iso()
    return result


def _header_safe(value: str | None) -> str | None:
    """A stored validator usable as a header value (latin-1, no line breaks), else None."""
    if not value or "\r" in value or "\n" in value:
        return None
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return None
    return value


def conditional_headers(previous: PreviousState | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    if previous is None:
        return headers
    etag = _header_safe(previous.get("etag"))
    last_modified = _header_safe(previous.get("last_modified"))
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


# --------------------------------------------------------------------------- crawling


@dataclass
class _Transient:
    reason: str
    status: int | None = None
    retry_after: float | None = None
    response: SafeResponse | None = None


@dataclass(frozen=True)
class CrawlOptions:
    """What an invocation knows besides the pages and settings."""

    retry_count: int = 0  # $$.State.RetryCount: attempts Step Functions already made
    time_budget_s: float = DEFAULT_TIME_BUDGET_S  # stop everything within this many seconds
    resolver: Resolver | None = None  # tests inject DNS answers
    network_backend: httpcore.AsyncNetworkBackend | None = None  # tests record connects


class _BatchCrawl:
    def __init__(
        self,
        settings: Settings,
        options: CrawlOptions,
        *,
        single_page: bool,
        deadline: float,
        client: httpx.AsyncClient,
        selectors: tuple[Selector, ...],
    ) -> None:
        self.settings = settings
        self.options = options
        self.single_page = single_page
        self.deadline = deadline
        self.client = client
        self.selectors = selectors
        self.limits = FetchLimits.from_settings(settings)
        self.gates = HostGates(settings.per_host_concurrency)
        self.robots = RobotsCache(
            client,
            self.limits,
            user_agent=settings.user_agent,
            max_crawl_delay=settings.max_crawl_delay,
            deadline=lambda: self.deadline,
        )

    def _attempt(self, in_handler: int) -> int:
        """This attempt's number, counting Step Functions' retries before this invocation."""
        return self.options.retry_count + in_handler

    def _time_left(self) -> float:
        return self.deadline - asyncio.get_running_loop().time()

    async def crawl(self, task: PageTask) -> PageResult:
        url = task["url"]
        rules: RobotsRules = ALLOW_ALL
        verdict = task.get("robots")
        if self.settings.obey_robots and verdict is not None:
            # ListPages read this origin's robots.txt once for the whole run.
            if not verdict["allowed"]:
                why = verdict["reason"] or "robots.txt disallows"
                return skipped_result(url, why, attempts=self.options.retry_count)
            rules = RobotsRules(parser=None, crawl_delay=verdict["crawl_delay"])
        elif self.settings.obey_robots:
            rules = await self.robots.rules_for(url)
            reason = rules.verdict(url, self.settings.user_agent)
            if rules.unavailable and reason is not None:
                # Not crawled because of an error, not by policy: a failure, retried as one.
                if self.single_page:
                    raise TransientCrawlError(f"{url}: {reason} (attempt {self._attempt(1)})")
                return failed_result(url, reason, attempts=self.options.retry_count + 1)
            if reason is not None:
                return skipped_result(url, reason, attempts=self.options.retry_count)
        spacing = max(self.settings.per_host_delay, rules.crawl_delay or 0.0)
        gate = self.gates.for_url(url)
        headers = conditional_headers(task["previous"])
        attempts = 0
        while True:
            attempts += 1
            total_attempts = self.options.retry_count + attempts
            try:
                async with gate.slot(spacing, self.deadline):
                    response = await fetch_async(
                        self.client,
                        url,
                        self.limits,
                        headers=headers,
                        deadline=self.deadline,
                        hop_check=self._robots_hop if self.settings.obey_robots else None,
                    )
            except NoTimeLeftError:
                transient = _Transient("no time left in this invocation (host spacing)")
            except HopRefusedError as exc:
                return skipped_result(url, exc.reason, attempts=total_attempts)
            except FetchError as exc:
                if not exc.transient:
                    return failed_result(url, exc.reason, attempts=total_attempts)
                transient = _Transient(exc.reason)
            else:
                try:
                    judged = self._judge(task, response, total_attempts)
                except Exception as exc:  # one odd page must not lose the whole batch
                    logger.exception("could not process the response", extra={"url": url})
                    return failed_result(
                        url,
                        f"could not process the response ({type(exc).__name__})",
                        attempts=total_attempts,
                        status=response.status,
                        response=response,
                    )
                if not isinstance(judged, _Transient):
                    return judged
                transient = judged
            wait = self._retry_wait(transient, attempts)
            if wait is None:
                if self.single_page:
                    raise TransientCrawlError(
                        f"{url}: {transient.reason} (attempt {self._attempt(attempts)})"
                    )
                return failed_result(
                    url,
                    transient.reason,
                    attempts=total_attempts,
                    status=transient.status,
                    response=transient.response,
                )
            await asyncio.sleep(wait)

    async def _robots_hop(self, target: str) -> str | None:
        """robots.txt of a redirect target on another origin: None, or why it is skipped."""
        verdict = (await self.robots.rules_for(target)).verdict(target, self.settings.user_agent)
        return None if verdict is None else f"{verdict} (redirect target {target})"

    def _judge(
        self, task: PageTask, response: SafeResponse, attempts: int
    ) -> PageResult | _Transient:
        status = response.status
        url = task["url"]
        if 200 <= status < 300:
            return success_result(task, response, self.selectors, attempts=attempts)
        if status == 304:
            if task["previous"] is None:
                return failed_result(
                    url, "HTTP 304 to an unconditional request", attempts=attempts, status=304
                )
            return not_modified_result(task, response, attempts=attempts)
        if is_transient_status(status):
            return _Transient(
                f"HTTP {status}",
                status=status,
                retry_after=parse_retry_after(response.headers.get("retry-after"))
                if status in (429, 503)
                else None,
                response=response,
            )
        reason = f"HTTP {status} without a Location" if 300 <= status < 400 else f"HTTP {status}"
        return failed_result(url, reason, attempts=attempts, status=status, response=response)

    def _retry_wait(self, transient: _Transient, attempts: int) -> float | None:
        """Seconds to wait before trying again here, or None to give up (and say why)."""
        time_left = self._time_left()
        if transient.retry_after is not None:
            wait = transient.retry_after
            if wait > self.settings.max_retry_after:
                transient.reason += (
                    f" (Retry-After {wait:g}s is over the {self.settings.max_retry_after:g}s cap)"
                )
                return None
        elif self.single_page:
            return None  # Step Functions' Retry does the backing off, visibly
        else:
            base = RETRY_BACKOFF_S[min(attempts - 1, len(RETRY_BACKOFF_S) - 1)]
            wait = base * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not crypto
        if attempts >= MAX_ATTEMPTS_IN_HANDLER:
            transient.reason += f" (after {attempts} attempts)"
            return None
        if wait + MIN_ATTEMPT_S > time_left:
            if transient.retry_after is not None:
                transient.reason += (
                    f" (Retry-After {wait:g}s is longer than this invocation can wait)"
                )
            return None
        return wait


async def crawl_pages(
    pages: Sequence[PageTask],
    settings: Settings,
    options: CrawlOptions | None = None,
    *,
    client: httpx.AsyncClient | None = None,
) -> list[PageResult]:
    """Crawl the pages concurrently; one PageResult per page, in input order.

    `client` is an already open client to crawl with (the warm one); without it the crawl
    opens and closes its own. Raises TransientCrawlError only for a one-page batch whose page
    failed transiently, and ConfigError when a configured selector is not valid CSS.
    """
    options = options or CrawlOptions()
    selectors = compile_selectors(settings.selectors)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(0.0, options.time_budget_s)
    if client is not None:
        return await _crawl_with(client, pages, settings, options, deadline, selectors)
    hosts = {host_of(task["url"]) for task in pages}
    connections = max(10, min(200, len(hosts) * (settings.per_host_concurrency + 1)))
    async with make_async_client(
        settings,
        resolver=options.resolver,
        max_connections=connections,
        network_backend=options.network_backend,
    ) as own_client:
        return await _crawl_with(own_client, pages, settings, options, deadline, selectors)


async def _crawl_with(
    client: httpx.AsyncClient,
    pages: Sequence[PageTask],
    settings: Settings,
    options: CrawlOptions,
    deadline: float,
    selectors: tuple[Selector, ...],
) -> list[PageResult]:
    crawl = _BatchCrawl(
        settings,
        options,
        single_page=len(pages) == 1,
        deadline=deadline,
        client=client,
        selectors=selectors,
    )
    return list(await asyncio.gather(*(crawl.crawl(task) for task in pages)))


class _WarmLoop:
    """An event loop in a daemon thread and the clients it keeps, reused by every invocation
    of this process. A client serves one invocation at a time, like the one client of a warm
    Lambda container; the local engine runs several invocations at once (from its threads),
    and each takes an idle client or opens one, as concurrent invocations on AWS each get a
    container. (One pool shared by many concurrent batches would cost more: httpcore scans
    every connection for every queued request.)"""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        # Idle clients by what a client fixes for its requests (the address guard, the
        # headers); only ever touched on the loop's thread.
        self._idle: dict[tuple[bool, str], list[httpx.AsyncClient]] = {}
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="crawl-batch-loop", daemon=True
        )
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    async def crawl(
        self, pages: Sequence[PageTask], settings: Settings, options: CrawlOptions
    ) -> list[PageResult]:
        key = (settings.allow_private_networks, settings.user_agent)
        idle = self._idle.setdefault(key, [])
        client = idle.pop() if idle else None
        if client is None:
            client = make_async_client(
                settings, max_connections=WARM_POOL_CONNECTIONS, keepalive_expiry=WARM_KEEPALIVE_S
            )
        try:
            return await crawl_pages(pages, settings, options, client=client)
        finally:
            idle.append(client)

    async def _close_clients(self) -> None:
        clients = [client for idle in self._idle.values() for client in idle]
        self._idle = {}
        for client in clients:
            await client.aclose()

    def close(self) -> None:
        try:
            self.run(self._close_clients())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=5)
            if not self._thread.is_alive():
                self.loop.close()


_warm: _WarmLoop | None = None
_warm_lock = threading.Lock()


def _warm_loop() -> _WarmLoop:
    global _warm
    with _warm_lock:
        if _warm is None:
            _warm = _WarmLoop()
        return _warm


def release_warm_resources() -> None:
    """Close the warm loop and its clients (the local engine calls this when a run's
    container is discarded; on Lambda the container's end does it)."""
    global _warm
    with _warm_lock:
        warm, _warm = _warm, None
    if warm is not None:
        warm.close()


def run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, also when the caller already runs an event loop in this thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def crawl_batch(
    event: CrawlBatchInput, settings: Settings, options: CrawlOptions | None = None
) -> BatchResult:
    """The CrawlBatch state's work on a validated event (see parse_event)."""
    options = replace(options or CrawlOptions(), retry_count=event.get("retry_count", 0))
    if options.resolver is None and options.network_backend is None:
        warm = _warm_loop()
        results = warm.run(warm.crawl(event["pages"], settings, options))
    else:
        results = run_coroutine(crawl_pages(event["pages"], settings, options))
    return BatchResult(batch_id=event["batch_id"], results=results)


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
