"""The cost estimate as text: `crawlmap cost`'s breakdown and its scaling table."""

from __future__ import annotations

import math

from crawlmap.cost.measured import estimate_run
from crawlmap.cost.usage import CostBreakdown
from crawlmap.history import RunFolder


def _usd(value: float) -> str:
    if value == 0:
        return "$0"
    if value < 0.0001:
        return f"${value:.8f}"
    return f"${value:.6f}" if value < 1 else f"${value:,.4f}"


def _qty(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() or value >= 100 else f"{value:,.3f}"


def _duration_lines(b: CostBreakdown) -> list[str]:
    """What was measured and what assumed (the duration model, duration.py)."""
    report = b.durations
    if report is None:
        return ["Lambda durations: as recorded (wall clock; no CPU time in meta.json)"]
    a, m = report.assumed, report.measured
    out = []
    if b.projection is not None:
        p = b.projection
        out.append(
            f"Projected: {p['pages']:,} pages on {p['hosts']:,} hosts, {p['page_wait_ms']:g} ms"
            f" network wait per page (assumed), {p['mode']} path: ListPages' planner makes"
            f" {p['lanes']:,} lanes, {p['batches']:,} batches"
            + (f", {p['child_executions']:,} child executions" if p["child_executions"] else "")
        )
        cpu = ", ".join(f"{k} {v:.2f}" for k, v in m["cpu_ms_per_page"].items())
        out.append(
            f"Measured in run {m['from_run']} ({m['measured_pages']:,} pages):"
            f" CPU ms per page {cpu}"
        )
    else:
        wait = a["page_wait_ms"]
        wait_text = (
            f"measured, each host's lowest elapsed_ms: {m['page_wait_ms_mean']:.1f} ms per page"
            f" on average over {m['pages_fetched']:,} fetched pages (mean elapsed_ms"
            f" {m['elapsed_ms_mean']:.1f} ms, which this machine's load inflates)"
            if not isinstance(wait, int | float)
            else f"{wait:g} ms per page (assumed)"
        )
        out.append(
            f"Network wait: {wait_text}; batches: {m['batches']:,} from the {m['batches_from']}"
        )
    out.append(
        "Lambda billed ms = ceil(CPU ms x max(1, "
        f"{a['lambda_mb_per_vcpu']:,} MB / memory) x {a['arm64_cpu_factor']:g} (arm64 factor,"
        " assumed) + network wait); waits of a batch's hosts overlap, a host's pages share its"
        " slots; CPU and wait added"
    )
    out.append(
        f"  {'Function':<16}{'calls':>9}{'CPU ms':>14}{'x scale':>9}{'wait ms':>14}"
        f"{'billed ms':>14}{'wall ms':>14}"
    )
    for f in report.functions:
        cpu = "-" if f.cpu_ms_total is None else f"{f.cpu_ms_total:,.0f}"
        wall = f"{f.wall_ms_total:,.0f}" if f.wall_ms_total else "-"
        out.append(
            f"  {f.name:<16}{f.invocations:>9,.0f}{cpu:>14}{f.cpu_scale:>9.2f}"
            f"{f.wait_ms_total:>14,.0f}{f.billed_ms_total:>14,.0f}{wall:>14}"
        )
    return out


def format_cost(breakdown: CostBreakdown) -> str:
    b = breakdown
    scaled = f" (scaled x{b.scale:,.2f} from {b.measured_pages:,} measured)" if b.scale != 1 else ""
    if b.projection is not None:
        scaled = f" (projected; CPU per page from the {b.measured_pages:,} measured)"
    out = [
        f"Cost estimate for run {b.run_id or '?'} ({b.mode}), {b.pages:,.0f} pages{scaled}",
        f"Prices: {b.region} list prices as of {b.prices_as_of} (crawlmap/cost/prices.json);"
        " data transfer and free tiers excluded",
        "",
        f"State transitions in the history: {b.transitions.total:,}"
        f" = {b.transitions.states_entered:,} states entered"
        f" ({b.transitions.top_level_entered} top level,"
        f" {b.transitions.iteration_entered:,} in Map iterations)"
        f" + {b.transitions.retries:,} retries",
    ]
    out.extend(_duration_lines(b))
    if b.usage.child_executions:
        out.append(
            f"Billed Standard transitions: {b.billed_state_transitions:,.0f}"
            f" (+ {b.usage.child_executions:,.0f} Distributed Map child executions started)"
        )
    out.append("")
    out.append(f"  {'Service':<15}{'Item':<58}{'Quantity':>16}{'USD':>14}")
    for line in b.lines:
        out.append(
            f"  {line.service:<15}{line.item:<58}{_qty(line.quantity):>16}{_usd(line.usd):>14}"
        )
    out.append("")
    for service, usd in b.by_service().items():
        out.append(f"  {service:<15}{_usd(usd):>14}")
    out.append(
        f"  {'Compute + orchestration (Step Functions + Lambda)':<52}"
        f"{_usd(b.compute_orchestration_usd):>14}"
    )
    out.append(f"  {'Total':<52}{_usd(b.total_usd):>14}")
    out.append("")
    out.append(
        f"Naive design (one Lambda per page in a Standard inline Map, {b.naive.per_page_ms:,.0f} ms"
        f" per page): {b.naive.state_transitions:,.0f} transitions,"
        f" {b.naive.lambda_requests:,.0f} Lambda requests"
    )
    out.append(
        f"  compute + orchestration {_usd(b.naive.compute_orchestration_usd)}"
        f"   total {_usd(b.naive.total_usd)}"
    )
    ratio = f"{b.ratio:,.1f}x" if math.isfinite(b.ratio) else "n/a"
    compute_ratio = f"{b.compute_ratio:,.1f}x" if math.isfinite(b.compute_ratio) else "n/a"
    out.append(
        f"  this design is {ratio} cheaper in total, {compute_ratio} on compute + orchestration"
    )
    for note in b.notes:
        out.append(f"Note: {note}")
    return "\n".join(out)


def format_scaling(run: RunFolder, targets: list[int]) -> str:
    """A table of the estimate scaled to several page counts."""
    rows = [
        f"  {'pages':>10} {'transitions':>12} {'children':>9} {'compute+orch':>13}"
        f" {'total':>11} {'naive total':>12} {'ratio':>8}"
    ]
    for target in targets:
        b = estimate_run(run, pages=target)
        rows.append(
            f"  {target:>10,} {b.billed_state_transitions:>12,.0f}"
            f" {b.usage.child_executions:>9,.0f}"
            f" {_usd(b.compute_orchestration_usd):>13} {_usd(b.total_usd):>11}"
            f" {_usd(b.naive.total_usd):>12} {b.ratio:>7,.1f}x"
        )
    return "\n".join(rows)
