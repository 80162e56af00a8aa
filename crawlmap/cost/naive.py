"""The naive design, priced for comparison: one Lambda per page in a Standard inline Map.

The same top-level states, one inner Task state per page (plus its retries, plus a
failure-record Pass state for each page that failed), one invocation per page attempt lasting
the measured (or modelled) per-page duration.
"""

from __future__ import annotations

import math

from crawlmap.cost.prices import (
    PriceList,
    compute_orchestration_usd,
    cost_line,
    dynamodb_lines,
    lambda_lines,
)
from crawlmap.cost.usage import FunctionUsage, NaiveEstimate, TransitionCount, Usage
from crawlmap.history import RunFolder

PER_PAGE_FUNCTION = "CrawlBatch"


def _per_page_ms(run: RunFolder, usage: Usage) -> float:
    """How long one page's own Lambda would run: the page's fetch time, or the batch share.

    The larger of the two: a one-page function waits for its page, and at least does the
    per-page work the batched function did.
    """
    crawl = next((f for f in usage.functions if f.name == PER_PAGE_FUNCTION), None)
    share = crawl.duration_ms_total / usage.pages if crawl and usage.pages else 0.0
    elapsed = [r.get("elapsed_ms") for r in run.results]
    fetch = [float(v) for v in elapsed if isinstance(v, int | float) and not isinstance(v, bool)]
    fetch_mean = sum(fetch) / len(fetch) if fetch else 0.0
    return max(share, fetch_mean, 1.0)


def naive_estimate(
    prices: PriceList,
    run: RunFolder,
    usage: Usage,
    transitions: TransitionCount,
    measured_pages: int,
    factor: float,
    per_page_ms: float | None = None,
) -> NaiveEstimate:
    pages = measured_pages * factor
    retries = sum(max(int(r.get("attempts") or 1) - 1, 0) for r in run.results) * factor
    failed = sum(1 for r in run.results if r.get("outcome") == "failed") * factor
    attempts = pages + retries
    # The same top-level states (ListPages, ChooseMode, the Map, StoreAndNotify, ...).
    state_transitions = transitions.top_level_entered + pages + retries + failed
    if per_page_ms is None:
        per_page_ms = _per_page_ms(run, usage)
    crawl = next((f for f in usage.functions if f.name == PER_PAGE_FUNCTION), None)
    memory = crawl.memory_mb if crawl else 1024
    arch = crawl.architecture if crawl else "arm64"
    page_function = FunctionUsage(
        name="CrawlPage (one per page)",
        memory_mb=memory,
        architecture=arch,
        invocations=attempts,
        duration_ms_total=math.ceil(per_page_ms) * attempts,
    )
    others = tuple(f for f in usage.functions if f.name != PER_PAGE_FUNCTION)
    lines = [
        cost_line(
            prices,
            "Step Functions",
            "Standard state transitions (one Task per page, inline Map)",
            state_transitions,
            "stepfunctions_standard_transition",
        ),
        *lambda_lines(prices, (*others, page_function)),
        *dynamodb_lines(prices, usage),
    ]
    return NaiveEstimate(
        state_transitions=state_transitions,
        lambda_requests=sum(f.invocations for f in (*others, page_function)),
        lambda_gb_seconds=sum(f.billed_gb_seconds() for f in (*others, page_function)),
        per_page_ms=per_page_ms,
        lines=tuple(lines),
        compute_orchestration_usd=compute_orchestration_usd(lines),
        total_usd=sum(line.usd for line in lines),
    )
