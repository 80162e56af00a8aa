"""What a warm Lambda container keeps between invocations: one asyncio loop in a daemon thread
and the httpx clients it reuses (SSRF-guarded transport, kept-alive connections), instead of a
new loop, client and TCP connection for every batch (that was most of a one-page batch's CPU).

A client serves one invocation at a time, like the one client of a warm Lambda container; the
local engine runs several invocations at once (from its threads), and each takes an idle client
or opens one, as concurrent invocations on AWS each get a container. (One pool shared by many
concurrent batches would cost more: httpcore scans every connection for every queued request.)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx

from lambdas.common.safe_http import make_async_client
from lambdas.common.settings import Settings
from lambdas.crawl_batch.response_budget import add_budget_hook

WARM_POOL_CONNECTIONS = 200  # the most one batch's pool ever allowed
# Idle pooled connections are dropped after this: short, so a connection a server closed while
# the container was frozen between invocations is rarely picked up again.
WARM_KEEPALIVE_S = 2.0

T = TypeVar("T")


class WarmLoop:
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

    @asynccontextmanager
    async def client(self, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
        """An idle warm client for these settings (or a new one), returned when done."""
        key = (settings.allow_private_networks, settings.user_agent)
        idle = self._idle.setdefault(key, [])
        client = idle.pop() if idle else None
        if client is None:
            client = add_budget_hook(
                make_async_client(
                    settings,
                    max_connections=WARM_POOL_CONNECTIONS,
                    keepalive_expiry=WARM_KEEPALIVE_S,
                )
            )
        try:
            yield client
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


_warm: WarmLoop | None = None
_warm_lock = threading.Lock()


def warm_loop() -> WarmLoop:
    global _warm
    with _warm_lock:
        if _warm is None:
            _warm = WarmLoop()
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
