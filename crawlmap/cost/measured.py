"""The measured-run model: a recorded run folder's usage (its history and meta.json), scaled
to another page count (`crawlmap cost --pages`), priced (estimate_run, estimate_cost).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from crawlmap.cost import duration as dm
from crawlmap.cost.naive import naive_estimate
from crawlmap.cost.prices import compute_orchestration_usd, load_prices, price_usage
from crawlmap.cost.usage import (
    CostBreakdown,
    CostError,
    FunctionUsage,
    TransitionCount,
    Usage,
    count_state_transitions,
)
from crawlmap.history import RunFolder, load_run

DDB_WRITE_UNIT_BYTES = 1024
DDB_ITEM_OVERHEAD_BYTES = 100  # keys (pk/sk), run_id and TTL attributes around a PageResult


def _number(value: Any, field_name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise CostError(f"meta.json {field_name}: expected a non-negative number, got {value!r}")
    return float(value)


def _functions(meta: Mapping[str, Any]) -> tuple[FunctionUsage, ...]:
    raw = meta.get("functions")
    if not isinstance(raw, Mapping) or not raw:
        raise CostError("meta.json functions: missing (memory, architecture, invocations)")
    usages = []
    for name, spec in raw.items():
        where = f"functions.{name}"
        if not isinstance(spec, Mapping):
            raise CostError(f"meta.json {where}: expected an object")
        arch = spec.get("architecture", "arm64")
        if arch not in ("arm64", "x86_64"):
            raise CostError(f"meta.json {where}.architecture: arm64 or x86_64, got {arch!r}")
        usages.append(
            FunctionUsage(
                name=str(name),
                memory_mb=int(_number(spec.get("memory_mb"), f"{where}.memory_mb")),
                architecture=arch,
                invocations=_number(spec.get("invocations", 0), f"{where}.invocations"),
                duration_ms_total=_number(
                    spec.get("duration_ms_total", 0), f"{where}.duration_ms_total"
                ),
            )
        )
    return tuple(usages)


def _page_count(run: RunFolder) -> int:
    if run.results:
        return len(run.results)
    output = run.history.output
    if isinstance(output, Mapping) and isinstance(output.get("total"), int):
        return int(output["total"])
    for visit in run.history.states:
        out = visit.output
        if isinstance(out, Mapping) and isinstance(out.get("run"), Mapping):
            count = out["run"].get("page_count")
            if isinstance(count, int):
                return count
    return 0


def _ddb_units_per_item(run: RunFolder) -> int:
    if not run.results:
        return 1
    sizes = [len(json.dumps(r, separators=(",", ":")).encode()) for r in run.results]
    average = sum(sizes) / len(sizes) + DDB_ITEM_OVERHEAD_BYTES
    return max(1, math.ceil(average / DDB_WRITE_UNIT_BYTES))


def _child_executions(run: RunFolder, notes: list[str]) -> tuple[float, float, float]:
    """(child executions, their total duration, their state transitions if STANDARD)."""
    distributed = run.meta.get("distributed")
    if isinstance(distributed, Mapping):
        count = _number(distributed.get("child_executions", 0), "distributed.child_executions")
        duration = _number(
            distributed.get("child_duration_ms_total", 0), "distributed.child_duration_ms_total"
        )
        if str(distributed.get("execution_type", "EXPRESS")).upper() == "STANDARD":
            raw = distributed.get("child_state_transitions")
            if raw is None:
                notes.append(
                    "STANDARD child executions with unknown state transitions: not counted"
                )
                return count, duration, 0.0
            transitions = _number(raw, "distributed.child_state_transitions")
            notes.append("STANDARD child executions: their state transitions are billed")
            return count, duration, transitions
        return count, duration, 0.0
    if run.history.mode == "distributed":
        notes.append(
            "distributed Map without meta.json 'distributed' stats: child executions"
            " counted as 0 (not in the parent history)"
        )
    return 0.0, 0.0, 0.0


def measure(run: RunFolder) -> tuple[Usage, TransitionCount, list[str]]:
    notes: list[str] = []
    transitions = count_state_transitions(run.history)
    functions = _functions(run.meta)
    pages = _page_count(run)
    children, child_ms, child_transitions = _child_executions(run, notes)
    store_writes = run.meta.get("store_writes")
    if store_writes is None:
        writes = float(pages + 1)
        notes.append(
            "meta.json store_writes missing: assumed one item per page plus the run record"
        )
    else:
        writes = _number(store_writes, "store_writes")
    # ListPages reads each page's previous state once; the store does not count reads.
    reads = float(pages)
    notes.append("DynamoDB reads: assumed one previous-state read per page")
    s3 = run.meta.get("s3_requests") or {}
    if not isinstance(s3, Mapping):
        raise CostError("meta.json s3_requests: expected {'get': int, 'put': int}")
    usage = Usage(
        pages=float(pages),
        parent_transitions=float(transitions.total),
        child_executions=children,
        child_duration_ms_total=child_ms,
        standard_child_transitions=child_transitions,
        functions=functions,
        ddb_write_units=writes * _ddb_units_per_item(run),
        ddb_read_units=reads * 0.5,
        s3_get=_number(s3.get("get", 0), "s3_requests.get"),
        s3_put=_number(s3.get("put", 0), "s3_requests.put"),
    )
    return usage, transitions, notes


def scale_usage(usage: Usage, transitions: TransitionCount, factor: float) -> Usage:
    """Scale a measured run linearly to factor x its pages.

    Fixed per run: the top-level state transitions and one invocation each of the per-run
    functions (ListPages, StoreAndNotify; their durations do grow with the pages). Everything
    else (iteration transitions, retries, child executions, batches, writes, S3 requests)
    grows with the pages.
    """
    per_run = {"ListPages", "StoreAndNotify"}
    functions = tuple(
        FunctionUsage(
            name=f.name,
            memory_mb=f.memory_mb,
            architecture=f.architecture,
            invocations=f.invocations if f.name in per_run else f.invocations * factor,
            duration_ms_total=f.duration_ms_total * factor,
        )
        for f in usage.functions
    )
    fixed = transitions.top_level_entered
    return Usage(
        pages=usage.pages * factor,
        parent_transitions=fixed + (usage.parent_transitions - fixed) * factor,
        child_executions=usage.child_executions * factor,
        child_duration_ms_total=usage.child_duration_ms_total * factor,
        standard_child_transitions=usage.standard_child_transitions * factor,
        functions=functions,
        ddb_write_units=usage.ddb_write_units * factor,
        ddb_read_units=usage.ddb_read_units * factor,
        s3_get=usage.s3_get * factor,
        s3_put=usage.s3_put * factor,
    )


def has_cpu(meta: Mapping[str, Any]) -> bool:
    functions = meta.get("functions")
    return isinstance(functions, Mapping) and any(
        isinstance(spec, Mapping) and spec.get("cpu_ms_total") is not None
        for spec in functions.values()
    )


def model_durations(
    run: RunFolder, usage: Usage, mode: str, page_wait_ms: float | None, notes: list[str]
) -> tuple[Usage, dm.DurationReport | None]:
    """The usage with each function's duration from the load-independent model (duration.py),
    when the run measured CPU time; else as recorded (wall clock), with a note."""
    if not has_cpu(run.meta):
        notes.append(
            "meta.json has no cpu_ms_total (recorded before CPU was measured, or on AWS):"
            " Lambda priced from the recorded durations"
        )
        return usage, None
    report = dm.model_run_durations(
        run,
        {f.name: f.memory_mb for f in usage.functions},
        {f.name: f.invocations for f in usage.functions},
        mode,
        page_wait_ms=page_wait_ms,
    )
    billed = {d.name: d.billed_ms_total for d in report.functions}
    functions = tuple(
        replace(f, duration_ms_total=billed.get(f.name, f.duration_ms_total))
        for f in usage.functions
    )
    if report.measured.get("batches_from") == "planner":
        notes.append(
            "CrawlBatch's batches are not in the run folder (distributed): ListPages' planner"
            " was run again on the run's pages with the default per-host limits"
        )
    return replace(usage, functions=functions), report


def _naive_page_ms(usage: Usage, report: dm.DurationReport | None) -> float | None:
    """One page per invocation under the same model: its CPU share and its own wait."""
    if report is None or not usage.pages:
        return None
    crawl = next((d for d in report.functions if d.name == dm.CRAWL_FUNCTION), None)
    if crawl is None or crawl.cpu_ms_total is None:
        return None
    wait = report.assumed.get("page_wait_ms")
    if not isinstance(wait, int | float):
        wait = report.measured.get("page_wait_ms_mean", 0.0)
    return max(1.0, crawl.cpu_ms_total * crawl.cpu_scale / usage.pages + float(wait))


def estimate_run(
    run: RunFolder,
    *,
    pages: int | None = None,
    naive_page_ms: float | None = None,
    page_wait_ms: float | None = None,
) -> CostBreakdown:
    """Price a loaded run; `pages` scales it, `naive_page_ms` sets the naive design's
    per-page Lambda time (default: under the duration model, or the larger of the batch share
    and the mean fetch time), `page_wait_ms` assumes each page's network wait (default: its
    measured elapsed_ms)."""
    if not run.meta:
        raise CostError(
            f"{run.path}: meta.json missing: the cost needs the functions' memory and durations"
        )
    if page_wait_ms is not None and not (math.isfinite(page_wait_ms) and page_wait_ms >= 0):
        raise CostError(f"--page-wait-ms: must be a number >= 0, got {page_wait_ms}")
    measured, transitions, notes = measure(run)
    mode = str(run.meta.get("mode") or run.history.mode)
    measured, durations = model_durations(run, measured, mode, page_wait_ms, notes)
    if naive_page_ms is None:
        naive_page_ms = _naive_page_ms(measured, durations)
    measured_pages = int(measured.pages)
    if pages is not None:
        if pages <= 0:
            raise CostError(f"--pages: must be a positive number of pages, got {pages}")
        if measured_pages == 0:
            raise CostError("--pages: the run has no pages to scale from")
    factor = (pages / measured_pages) if pages is not None else 1.0
    usage = scale_usage(measured, transitions, factor) if factor != 1.0 else measured
    if pages is not None and mode == "inline" and pages > measured_pages:
        notes.append(
            "scaled from an inline run: at this size ListPages would take the distributed path"
        )
    return priced_breakdown(
        run,
        usage,
        transitions,
        mode=mode,
        measured_pages=measured_pages,
        scale=factor,
        naive_page_ms=naive_page_ms,
        notes=notes,
        durations=durations,
    )


def priced_breakdown(
    run: RunFolder,
    usage: Usage,
    transitions: TransitionCount,
    *,
    mode: str,
    measured_pages: int,
    scale: float,
    naive_page_ms: float | None,
    notes: list[str],
    durations: dm.DurationReport | None,
    projection: dict[str, Any] | None = None,
) -> CostBreakdown:
    """The CostBreakdown of a run's usage (measured, scaled or projected), priced once, with
    the naive design's estimate for the same pages: the one place a CostBreakdown is built."""
    prices = load_prices()
    lines = price_usage(prices, usage)
    naive = naive_estimate(
        prices, run, usage, transitions, measured_pages, scale, per_page_ms=naive_page_ms
    )
    return CostBreakdown(
        run_id=run.history.name,
        mode=mode,
        measured_pages=measured_pages,
        pages=usage.pages,
        scale=scale,
        transitions=transitions,
        state_transitions=usage.parent_transitions,
        billed_state_transitions=(
            usage.parent_transitions + usage.child_executions + usage.standard_child_transitions
        ),
        usage=usage,
        lines=tuple(lines),
        compute_orchestration_usd=compute_orchestration_usd(lines),
        total_usd=sum(line.usd for line in lines),
        naive=naive,
        prices_as_of=prices.as_of,
        region=prices.region,
        notes=tuple(notes),
        durations=durations,
        projection=projection,
    )


def estimate_cost(run_dir: Path | RunFolder, *, pages: int | None = None) -> CostBreakdown:
    """Estimate the AWS cost of a recorded run folder (history.json + meta.json [+ results])."""
    run = run_dir if isinstance(run_dir, RunFolder) else load_run(Path(run_dir))
    return estimate_run(run, pages=pages)
