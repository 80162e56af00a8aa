"""Pure parts of lambdas.crawl_batch.core: the time budget, event parsing, the loop runner."""

import asyncio

import pytest

from lambdas.crawl_batch.core import DEFAULT_TIME_BUDGET_S, time_budget_from_remaining
from lambdas.crawl_batch.event import parse_event
from lambdas.crawl_batch.page import conditional_headers
from lambdas.crawl_batch.warm import run_coroutine


def test_time_budget_keeps_a_margin_below_the_remaining_time() -> None:
    assert time_budget_from_remaining(None) == DEFAULT_TIME_BUDGET_S
    assert time_budget_from_remaining(300_000) == pytest.approx(295.0)  # margin capped at 5 s
    assert time_budget_from_remaining(10_000) == pytest.approx(9.0)  # 10 %
    assert time_budget_from_remaining(2_000) == pytest.approx(1.5)  # at least 0.5 s
    assert time_budget_from_remaining(300) == 0.0
    for remaining_ms in (300, 2_000, 10_000, 60_000, 900_000):
        assert time_budget_from_remaining(remaining_ms) < remaining_ms / 1000


def test_parse_event_accepts_the_contract_shape() -> None:
    event = {
        "run_id": "exec",
        "batch_id": 2,
        "pages": [
            {"url": "https://a.example/", "previous": None},
            {
                "url": "https://a.example/b",
                "previous": {"etag": '"x"', "last_modified": None, "content_hash": "ab"},
            },
        ],
        "retry_count": 1,
    }
    parsed = parse_event(event)
    assert parsed["retry_count"] == 1
    assert parsed["pages"][1]["previous"] == {
        "etag": '"x"',
        "last_modified": None,
        "content_hash": "ab",
    }
    assert "retry_count" not in parse_event({**event, "retry_count": None})


def test_conditional_headers_from_previous_state() -> None:
    assert conditional_headers(None) == {}
    assert conditional_headers(
        {"etag": '"v"', "last_modified": "Wed, 21 Oct 2015 07:28:00 GMT", "content_hash": "h"}
    ) == {"If-None-Match": '"v"', "If-Modified-Since": "Wed, 21 Oct 2015 07:28:00 GMT"}
    assert conditional_headers({"etag": None, "last_modified": None, "content_hash": "h"}) == {}


async def _answer() -> int:
    await asyncio.sleep(0)
    return 42


def test_run_coroutine_works_with_and_without_a_running_loop() -> None:
    assert run_coroutine(_answer()) == 42

    async def inside_a_loop() -> int:
        return run_coroutine(_answer())  # e.g. a handler called from async code

    assert asyncio.run(inside_a_loop()) == 42


def test_unusable_stored_validators_are_not_sent() -> None:
    assert (
        conditional_headers(
            {"etag": '"caf\u00e9\u2603"', "last_modified": "x\r\nInjected: 1", "content_hash": None}
        )
        == {}
    )
