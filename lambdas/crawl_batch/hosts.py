"""Per-host politeness inside one batch: a concurrency cap and spacing between request starts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit


def host_of(url: str) -> str:
    """The key pages share a gate by: the URL's host (and port), lowercased."""
    return urlsplit(url).netloc.lower()


class NoTimeLeftError(Exception):
    """The wait for this host's next slot would run past the invocation's deadline."""


class HostGate:
    """At most `concurrency` requests in flight to one host, starts at least `spacing` apart."""

    def __init__(self, concurrency: int) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._spacing_lock = asyncio.Lock()
        self._next_start = 0.0

    @contextlib.asynccontextmanager
    async def slot(self, spacing: float, deadline: float) -> AsyncIterator[None]:
        async with self._slots:
            if spacing > 0:
                async with self._spacing_lock:
                    loop = asyncio.get_running_loop()
                    wait = self._next_start - loop.time()
                    if loop.time() + max(wait, 0.0) >= deadline:
                        raise NoTimeLeftError
                    if wait > 0:
                        await asyncio.sleep(wait)
                    self._next_start = loop.time() + spacing
            yield


class HostGates:
    def __init__(self, concurrency: int) -> None:
        self._concurrency = concurrency
        self._gates: dict[str, HostGate] = {}

    def for_url(self, url: str) -> HostGate:
        host = host_of(url)
        gate = self._gates.get(host)
        if gate is None:
            gate = self._gates[host] = HostGate(self._concurrency)
        return gate
