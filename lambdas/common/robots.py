"""robots.txt per origin (RFC 9309), parsed with Protego.

ListPages reads each origin's robots.txt once per run and sends its verdict with every page
(PageTask.robots); CrawlBatch reads it itself, once per invocation, only for origins without
a verdict (robots.txt was unavailable to ListPages) and for redirect targets on other origins.

2xx: the rules apply. 4xx (except 429): no rules, everything allowed. 429, 5xx or
unreachable: everything disallowed (RFC 9309), and `unavailable` is set: the pages are then
failures (not crawled because of an error), not robots.txt skips. An address the SSRF guard
refuses is not a robots question: the page's own fetch fails with the refusal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

import httpx
from protego import Protego

from lambdas.common.safe_http import AddressRefusedError, FetchError, FetchLimits, fetch_async

ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309: parse at least 500 KiB


@dataclass(frozen=True)
class RobotsRules:
    parser: Protego | None  # None: no rules (allow all) or blocked (see disallow_reason)
    disallow_reason: str | None = None  # set when everything is disallowed
    crawl_delay: float | None = None
    unavailable: bool = False  # no usable answer (429, 5xx, no response): disallow, as a failure

    def verdict(self, url: str, user_agent: str) -> str | None:
        """None when `url` may be fetched, else the reason it may not."""
        if self.disallow_reason is not None:
            return self.disallow_reason
        if self.parser is None or self.parser.can_fetch(url, user_agent):
            return None
        return "robots.txt disallows"


ALLOW_ALL = RobotsRules(parser=None)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def rules_from_text(text: str, user_agent: str, max_crawl_delay: float) -> RobotsRules:
    parser = Protego.parse(text)
    delay = parser.crawl_delay(user_agent)
    capped = None if delay is None else min(float(delay), max_crawl_delay)
    return RobotsRules(parser=parser, crawl_delay=capped)


class RobotsCache:
    """One robots.txt fetch per origin per invocation, shared by concurrent pages."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        limits: FetchLimits,
        *,
        user_agent: str,
        max_crawl_delay: float,
        deadline: Callable[[], float],
    ) -> None:
        self._client = client
        self._limits = replace(  # the caller's memory budget (reserve/release) too
            limits,
            max_redirects=max(limits.max_redirects, 5),  # RFC 9309: follow at least five
            max_bytes=ROBOTS_MAX_BYTES,
        )
        self._user_agent = user_agent
        self._max_crawl_delay = max_crawl_delay
        self._deadline = deadline
        self._pending: dict[str, asyncio.Task[RobotsRules]] = {}
        self.fetches = 0

    async def rules_for(self, url: str) -> RobotsRules:
        origin = origin_of(url)
        task = self._pending.get(origin)
        if task is None:
            task = asyncio.ensure_future(self._load(origin))
            self._pending[origin] = task
        return await asyncio.shield(task)

    async def _load(self, origin: str) -> RobotsRules:
        self.fetches += 1
        try:
            return await self._read(origin)
        except Exception as exc:  # one origin's robots.txt never sinks the others
            reason = f"{type(exc).__name__}: {exc}"[:120]
            return RobotsRules(
                None, f"robots.txt unreadable ({reason}): not crawled", unavailable=True
            )

    async def _read(self, origin: str) -> RobotsRules:
        try:
            response = await fetch_async(
                self._client, f"{origin}/robots.txt", self._limits, deadline=self._deadline()
            )
        except AddressRefusedError:
            return ALLOW_ALL
        except FetchError as exc:
            return RobotsRules(
                None, f"robots.txt unreachable ({exc.reason}): not crawled", unavailable=True
            )
        status = response.status
        text = response.body.decode("utf-8", errors="replace") if 200 <= status < 300 else None
        response.release()  # the memory budget gets the bytes back before parsing
        if text is not None:
            return rules_from_text(text, self._user_agent, self._max_crawl_delay)
        if 400 <= status < 500 and status != 429:
            return ALLOW_ALL
        return RobotsRules(
            None, f"robots.txt unavailable (HTTP {status}): not crawled", unavailable=True
        )
