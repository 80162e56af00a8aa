"""The memory-budget hook of fetch_async: FetchLimits.reserve / release (for CrawlBatch).

Every decoded piece is reserved before it is buffered; what a response reserved is given
back exactly once: by SafeResponse.release(), by dropping the response, or by a failed fetch
before it raises.
"""

import asyncio
import gc
import gzip
from collections.abc import Iterator
from dataclasses import replace

import pytest

from lambdas.common.safe_http import (
    DECODE_PIECE,
    FetchError,
    FetchLimits,
    SafeResponse,
    fetch_async,
    make_async_client,
)
from lambdas.common.settings import Settings
from tests.lambdas.crawl_support import ScenarioServer, running_server

LOCAL = Settings(allow_private_networks=True, request_timeout=3.0)


class Budget:
    """Records reservations; `gate` (when set) makes reserve wait, as a full budget would."""

    def __init__(self) -> None:
        self.reserved: list[int] = []
        self.released: list[int] = []
        self.gate: asyncio.Event | None = None

    async def reserve(self, size: int) -> None:
        if self.gate is not None:
            await self.gate.wait()
        self.reserved.append(size)

    def release(self, size: int) -> None:
        self.released.append(size)

    @property
    def held(self) -> int:
        return sum(self.reserved) - sum(self.released)


@pytest.fixture
def server() -> Iterator[ScenarioServer]:
    with running_server() as s:
        yield s


def _limits(budget: Budget, **changes: int) -> FetchLimits:
    limits = FetchLimits.from_settings(LOCAL)
    return replace(limits, reserve=budget.reserve, release=budget.release, **changes)


async def _fetch(url: str, limits: FetchLimits) -> SafeResponse:
    async with make_async_client(LOCAL) as client:
        return await fetch_async(client, url, limits)


def test_each_decoded_piece_is_reserved_and_released_once(server: ScenarioServer) -> None:
    page = b"<p>" + b"words " * 100_000 + b"</p>"  # 600 KB, gzip on the wire
    server.html("/big", gzip.compress(page), headers={"Content-Encoding": "gzip"})
    budget = Budget()
    response = asyncio.run(_fetch(server.url("/big"), _limits(budget)))
    assert response.body == page
    assert sum(budget.reserved) == len(page) == response.reserved_bytes
    assert max(budget.reserved) <= DECODE_PIECE
    assert budget.released == []  # held while the caller holds the response
    response.release()
    response.release()
    assert budget.released == [len(page)]
    del response
    gc.collect()
    assert budget.released == [len(page)]  # not twice


def test_dropping_the_response_gives_the_bytes_back(server: ScenarioServer) -> None:
    server.html("/page", "<p>hello</p>")
    budget = Budget()
    response = asyncio.run(_fetch(server.url("/page"), _limits(budget)))
    assert budget.held == len(b"<p>hello</p>")
    del response
    assert budget.held == 0


def test_a_body_over_the_cap_releases_what_it_reserved(server: ScenarioServer) -> None:
    server.html("/huge", gzip.compress(bytes(600_000)), headers={"Content-Encoding": "gzip"})
    budget = Budget()
    with pytest.raises(FetchError, match="body larger than"):
        asyncio.run(_fetch(server.url("/huge"), _limits(budget, max_bytes=200_000)))
    assert sum(budget.reserved) <= 200_000
    assert budget.held == 0
    assert len(budget.released) == 1


def test_a_waiting_reservation_holds_the_body_back_and_a_timeout_releases(
    server: ScenarioServer,
) -> None:
    server.html("/page", "x" * 200_000)
    budget = Budget()

    async def run() -> None:
        budget.gate = asyncio.Event()
        limits = replace(_limits(budget), total_timeout=0.5)
        with pytest.raises(FetchError, match="timeout"):
            await _fetch(server.url("/page"), limits)  # the budget never makes room

    asyncio.run(run())
    assert budget.reserved == []
    assert budget.held == 0


def test_reserve_without_release_is_refused() -> None:
    with pytest.raises(ValueError, match="reserve and release go together"):
        replace(FetchLimits.from_settings(LOCAL), reserve=Budget().reserve)
