"""`crawlmap cost --project`: a run of the design at another size, priced from the state
machine's shape, ListPages' planner and the CPU per page a recorded run measured.
"""

from __future__ import annotations

import math
from dataclasses import asdict, replace
from typing import Any

from crawlmap.cost import duration as dm
from crawlmap.cost.measured import has_cpu, measure, priced_breakdown
from crawlmap.cost.usage import CostBreakdown, CostError, Usage
from crawlmap.history import RunFolder


def project_run(
    run: RunFolder,
    *,
    pages: int,
    hosts: int,
    page_wait_ms: float = dm.PROJECTED_PAGE_WAIT_MS,
    per_host_concurrency: int | None = None,
) -> CostBreakdown:
    """`pages` pages spread over `hosts` hosts, each waiting `page_wait_ms` on the network,
    priced from the design: ListPages' planner lays them out (lanes, batches, per-host
    limits) with the default settings, the state machine's shape gives the transitions
    (duration.py: TOP_LEVEL_STATES, CHILD_FIXED_STATES), the run gives the CPU per page of
    each function and the DynamoDB/S3 requests per page."""
    if pages <= 0:
        raise CostError(f"--project: must be a positive number of pages, got {pages}")
    if hosts <= 0 or hosts > pages:
        raise CostError(f"--hosts: must be between 1 and the projected pages, got {hosts}")
    if not (math.isfinite(page_wait_ms) and page_wait_ms >= 0):
        raise CostError(f"--page-wait-ms: must be a number >= 0, got {page_wait_ms}")
    if not run.meta:
        raise CostError(f"{run.path}: meta.json missing: the projection needs its CPU per page")
    if not has_cpu(run.meta):
        raise CostError(
            "meta.json functions.*.cpu_ms_total: missing; the projection needs a run recorded"
            " with CPU time (any local run of this version)"
        )
    measured, transitions, notes = measure(run)
    measured_pages = int(measured.pages)
    if measured_pages == 0:
        raise CostError("--project: the run has no pages to take CPU per page from")
    distributed = pages >= int(tunables_default("distributed_threshold"))
    mode = "distributed" if distributed else "inline"
    settings = dm.PlanSettings.defaults(mode)
    if per_host_concurrency is not None:
        settings = replace(settings, per_host_concurrency=per_host_concurrency)
    urls = dm.projected_urls(pages, hosts)
    layout = dm.layout_of(dm.plan(urls, settings), {}, page_wait_ms, "planner")
    batches = len(layout.batches)
    raw = run.meta["functions"]
    per_page_cpu = {
        f.name: float(raw.get(f.name, {}).get("cpu_ms_total") or 0.0) / measured_pages
        for f in measured.functions
    }
    functions = []
    for f in measured.functions:
        scale = dm.cpu_scale(f.memory_mb)
        if f.name == dm.CRAWL_FUNCTION:
            billed: float = sum(
                math.ceil(per_page_cpu[f.name] * b.pages * scale + b.wait_ms())
                for b in layout.batches
            )
            calls = float(batches)
        else:  # once per run; their work grows with the pages
            billed = per_page_cpu[f.name] * pages * scale
            calls = f.invocations
        functions.append(replace(f, invocations=calls, duration_ms_total=float(billed)))
    factor = pages / measured_pages
    if distributed:
        parent = float(dm.TOP_LEVEL_STATES)
        children, child_transitions = (
            float(layout.lanes),
            float(dm.CHILD_FIXED_STATES * layout.lanes + batches),
        )
    else:
        parent = float(dm.TOP_LEVEL_STATES + dm.INLINE_LANE_STATES * layout.lanes + batches)
        children, child_transitions = 0.0, 0.0
    usage = Usage(
        pages=float(pages),
        parent_transitions=parent,
        child_executions=children,
        child_duration_ms_total=0.0,
        standard_child_transitions=child_transitions,
        functions=tuple(functions),
        ddb_write_units=measured.ddb_write_units * factor,
        ddb_read_units=measured.ddb_read_units * factor,
        s3_get=measured.s3_get * factor,
        s3_put=measured.s3_put * factor,
    )
    crawl_cpu = per_page_cpu.get(dm.CRAWL_FUNCTION, 0.0)
    crawl_memory = next(
        (f.memory_mb for f in measured.functions if f.name == dm.CRAWL_FUNCTION), 1024
    )
    report = dm.DurationReport(
        functions=tuple(
            dm.FunctionDuration(
                f.name,
                f.memory_mb,
                f.invocations,
                per_page_cpu[f.name] * pages,
                0.0,
                dm.cpu_scale(f.memory_mb),
                layout.wait_ms_total() if f.name == dm.CRAWL_FUNCTION else 0.0,
                f.duration_ms_total,
            )
            for f in functions
        ),
        measured={
            "from_run": run.history.name,
            "measured_pages": measured_pages,
            "cpu_ms_per_page": per_page_cpu,
        },
        assumed={
            "pages": pages,
            "hosts": hosts,
            "page_wait_ms": page_wait_ms,
            "lambda_mb_per_vcpu": dm.LAMBDA_MB_PER_VCPU,
            "arm64_cpu_factor": dm.ARM64_CPU_FACTOR,
            "plan_settings": asdict(settings),
            "retries": 0,
            "cpu_and_wait": "added, not overlapped",
        },
    )
    notes = [n for n in notes if not n.startswith("DynamoDB reads")]
    notes.append("DynamoDB and S3 requests scaled per page from the measured run")
    return priced_breakdown(
        run,
        usage,
        transitions,
        mode=mode,
        measured_pages=measured_pages,
        scale=factor,
        naive_page_ms=max(1.0, crawl_cpu * dm.cpu_scale(crawl_memory) + page_wait_ms),
        notes=notes,
        durations=report,
        projection={
            "pages": pages,
            "hosts": hosts,
            "page_wait_ms": page_wait_ms,
            "mode": mode,
            "lanes": layout.lanes,
            "batches": batches,
            "child_executions": int(children),
        },
    )


def tunables_default(key: str) -> Any:
    from lambdas.common import tunables

    return tunables.default(key)
