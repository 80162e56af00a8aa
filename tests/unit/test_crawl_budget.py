"""CrawlBatch's memory budget (lambdas/crawl_batch/budget.py): never exceeded, never deadlocked,
nobody dropped; its size comes from the invocation's memory."""

from __future__ import annotations

import asyncio
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdas.crawl_batch.budget import BODY_SHARE, MIB, MemoryBudget, budget_bytes, process_budget

CAP = 100


async def page(budget: MemoryBudget, holds: list[int], seed: int, done: list[int]) -> None:
    """One page's life: grow and shrink its reservation as reading and parsing would."""
    rng = random.Random(seed)  # noqa: S311 - test timing jitter, not security
    ticket = budget.ticket(CAP)
    try:
        for amount in holds:
            await ticket.hold(amount)
            assert budget.used <= budget.total
            await asyncio.sleep(rng.random() / 1000)
        done.append(seed)
    finally:
        ticket.close()


@settings(max_examples=60, deadline=None)
@given(
    total=st.integers(min_value=CAP, max_value=5 * CAP),
    pages=st.lists(
        st.lists(st.integers(min_value=0, max_value=CAP), min_size=1, max_size=6),
        min_size=1,
        max_size=25,
    ),
)
def test_any_mix_of_pages_finishes_within_the_budget(total: int, pages: list[list[int]]) -> None:
    budget = MemoryBudget(total)
    done: list[int] = []

    async def crawl() -> None:
        tasks = [page(budget, holds, seed, done) for seed, holds in enumerate(pages)]
        # A deadlock would hang here: every page must finish (none dropped).
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)

    asyncio.run(crawl())
    assert sorted(done) == list(range(len(pages)))
    assert budget.peak <= total
    assert budget.used == 0


def test_a_cancelled_waiter_gives_its_place_to_the_next() -> None:
    budget = MemoryBudget(CAP)

    async def scenario() -> None:
        first = budget.ticket(CAP)
        await first.hold(CAP)
        waiting = budget.ticket(CAP)
        blocked = asyncio.create_task(waiting.hold(CAP))
        await asyncio.sleep(0)
        blocked.cancel()
        with pytest.raises(asyncio.CancelledError):
            await blocked
        waiting.close()
        later = budget.ticket(CAP)
        first.close()
        await asyncio.wait_for(later.hold(CAP), timeout=5)
        assert budget.used == CAP
        later.close()

    asyncio.run(scenario())
    assert budget.used == 0


def test_the_budget_is_a_share_of_the_functions_memory() -> None:
    # The invocation context's memory_limit_in_mb wins over the environment.
    assert budget_bytes({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "2048"}, memory_mb=1024) == int(
        1024 * MIB * BODY_SHARE
    )
    assert budget_bytes({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "2048"}) == int(2048 * MIB * BODY_SHARE)
    assert budget_bytes({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "lots"}) == int(512 * MIB * BODY_SHARE)
    assert budget_bytes({}, memory_mb=64) == int(128 * MIB * BODY_SHARE)  # Lambda's minimum
    # One budget per size, shared by every invocation of the process.
    assert process_budget(1024) is process_budget(1024)
    assert process_budget(1024) is not process_budget(2048)
