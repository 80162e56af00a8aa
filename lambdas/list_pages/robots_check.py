"""robots.txt read once per origin per run, by ListPages, for every page of the run.

Each page then carries its verdict (PageTask.robots) to CrawlBatch, so a run of 10,000 pages
on one site asks for its robots.txt once, not once per batch, and every batch applies the
same rules. Origins whose robots.txt gives no usable answer (5xx, 429, no response) or that
are not reached within the time budget get no verdict: CrawlBatch reads robots.txt itself for
them, which also retries a briefly unavailable robots.txt, and fails their pages with the
reason when it stays unavailable (RFC 9309: disallow all). Whatever one origin's robots.txt
raises or returns stays with that origin (RobotsCache turns it into "unavailable"; anything
left over is caught here per origin): it never fails ListPages nor another origin's verdicts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from lambdas.common.models import RobotsVerdict
from lambdas.common.observability import logger
from lambdas.common.robots import RobotsCache, RobotsRules, origin_of
from lambdas.common.safe_http import FetchLimits, Resolver, make_async_client
from lambdas.common.settings import Settings

MAX_PARALLEL_ORIGINS = 32
DEFAULT_BUDGET_S = 60.0

RobotsChecker = Callable[[Sequence[str]], dict[str, RobotsVerdict]]


def verdict_for(url: str, rules: RobotsRules, user_agent: str) -> RobotsVerdict | None:
    """The page's verdict, or None when robots.txt could not be read (CrawlBatch tries again)."""
    if rules.unavailable:
        return None
    reason = rules.verdict(url, user_agent)
    return RobotsVerdict(allowed=reason is None, reason=reason, crawl_delay=rules.crawl_delay)


async def _read_all(
    urls: Sequence[str], settings: Settings, budget_s: float, resolver: Resolver | None
) -> dict[str, RobotsVerdict]:
    by_origin: dict[str, list[str]] = {}
    for url in urls:
        by_origin.setdefault(origin_of(url), []).append(url)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + budget_s
    client = make_async_client(settings, resolver=resolver, max_connections=MAX_PARALLEL_ORIGINS)
    cache = RobotsCache(
        client,
        FetchLimits.from_settings(settings),
        user_agent=settings.user_agent,
        max_crawl_delay=settings.max_crawl_delay,
        deadline=lambda: deadline,
    )
    gate = asyncio.Semaphore(MAX_PARALLEL_ORIGINS)
    verdicts: dict[str, RobotsVerdict] = {}

    async def read(origin_urls: list[str]) -> None:
        async with gate:
            if loop.time() >= deadline:
                return  # out of budget: CrawlBatch reads this origin's robots.txt itself
            try:
                rules = await cache.rules_for(origin_urls[0])
                found = {url: verdict_for(url, rules, settings.user_agent) for url in origin_urls}
            except Exception:  # contained per origin: CrawlBatch reads this one itself
                logger.exception("robots.txt check failed", extra={"origin": origin_urls[0]})
                return
        verdicts.update({url: v for url, v in found.items() if v is not None})

    try:
        await asyncio.gather(*(read(group) for group in by_origin.values()))
    finally:
        await client.aclose()
    return verdicts


def robots_checker(
    settings: Settings, *, budget_s: float = DEFAULT_BUDGET_S, resolver: Resolver | None = None
) -> RobotsChecker:
    """Reads robots.txt for the pages' origins; a no-op when robots.txt is not obeyed."""

    def check(urls: Sequence[str]) -> dict[str, RobotsVerdict]:
        if not settings.obey_robots or not urls:
            return {}
        return asyncio.run(_read_all(urls, settings, budget_s, resolver))

    return check
