"""The report's timeline: the top-level states and the Map iterations over the execution, in
lanes that show how many ran at once."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from crawlmap.history import ExecutionHistory, MapIteration, RunFolder, TaskInvocation
from crawlmap.report.markup import esc, fmt_ms, offset_ms
from crawlmap.report.rows import batches_of, iteration_label


def _lanes(iterations: Sequence[MapIteration], end: datetime) -> list[list[MapIteration]]:
    lanes: list[list[MapIteration]] = []
    lane_end: list[datetime] = []
    for it in sorted(iterations, key=lambda i: (i.started_at, i.index)):
        finish = it.ended_at or end
        for number, busy_until in enumerate(lane_end):
            if busy_until <= it.started_at:
                lanes[number].append(it)
                lane_end[number] = finish
                break
        else:
            lanes.append([it])
            lane_end.append(finish)
    return lanes


def peak_concurrency(iterations: Sequence[MapIteration], end: datetime) -> int:
    points: list[tuple[datetime, int]] = []
    for it in iterations:
        points.append((it.started_at, 1))
        points.append((it.ended_at or end, -1))
    running = peak = 0
    for _, delta in sorted(points, key=lambda p: (p[0], p[1])):
        running += delta
        peak = max(peak, running)
    return peak


def _nice_step(span_ms: float) -> float:
    raw = span_ms / 8 if span_ms > 0 else 1
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def timeline_section(history: ExecutionHistory, run: RunFolder | None = None) -> str:
    t0 = history.started_at
    end = history.stopped_at or (history.events[-1].timestamp if history.events else t0)
    span = max((end - t0).total_seconds() * 1000, 1.0)
    label_w, width, right = 190.0, 1200.0, 16.0
    plot_w = width - label_w - right
    top = 26.0

    def x(ms: float) -> float:
        return label_w + plot_w * max(0.0, min(ms, span)) / span

    rows: list[str] = []
    y = top
    top_level = [v for v in history.states if v.iteration is None]
    for visit in top_level:
        start = offset_ms(visit.entered_at, t0) or 0.0
        stop = offset_ms(visit.exited_at, t0) or start
        bar_w = max(x(stop) - x(start), 2.0)
        rows.append(
            f'<text class="lane-label" x="{label_w - 8:.0f}" y="{y + 11:.1f}" text-anchor="end">'
            f"{esc(visit.name)}</text>"
            f'<rect class="bar state {visit.status}" x="{x(start):.1f}" y="{y + 2:.1f}"'
            f' width="{bar_w:.1f}" height="12"><title>{esc(visit.name)}:'
            f" {fmt_ms(visit.duration_ms)}"
            f" ({esc(visit.status)})</title></rect>"
        )
        y += 18
    batches = batches_of(history, run)
    iterations = [it for it, _ in batches]
    owner_of = {id(it): owner for it, owner in batches}
    summary = ""
    if iterations:
        lanes = _lanes(iterations, end)
        peak = peak_concurrency(iterations, end)
        bar_h = max(3.0, min(12.0, 360.0 / len(lanes)))
        y += 10
        rows.append(
            f'<text class="lane-label" x="{label_w - 8:.0f}" y="{y + 10:.1f}" text-anchor="end">'
            f"Map iterations ({len(lanes)} lanes)</text>"
        )
        failed_attempts: dict[tuple[int, tuple[tuple[int, int], ...]], list[TaskInvocation]] = {}
        for owner in {id(o): o for _, o in batches}.values():
            for task in owner.tasks:
                if task.iteration is not None and task.outcome in ("failed", "timed_out"):
                    failed_attempts.setdefault((id(owner), task.scope), []).append(task)
        for lane in lanes:
            for it in lane:
                start = offset_ms(it.started_at, t0) or 0.0
                finish = offset_ms(it.ended_at, t0)
                bar_w = max(x(span if finish is None else finish) - x(start), 1.5)
                pages = ", ".join(it.pages[:3])
                label = iteration_label(it)
                rows.append(
                    f'<rect class="bar {it.outcome}" data-iteration="{it.index}" x="{x(start):.1f}"'
                    f' y="{y:.1f}" width="{bar_w:.1f}" height="{bar_h:.1f}"><title>{label}'
                    f" {esc(it.outcome)} {fmt_ms(it.duration_ms)}, attempts {it.attempts}:"
                    f" {esc(pages)}"
                    "</title></rect>"
                )
                key = (id(owner_of[id(it)]), it.scope)
                for failed in failed_attempts.get(key, []):
                    at = x(offset_ms(failed.ended_at or failed.scheduled_at, t0) or 0.0)
                    rows.append(
                        f'<line class="attempt-failed" x1="{at:.1f}" y1="{y - 1:.1f}"'
                        f' x2="{at:.1f}" y2="{y + bar_h + 1:.1f}"><title>attempt'
                        f" {failed.attempt} {esc(failed.outcome)}: {esc(failed.error)}"
                        "</title></line>"
                    )
            y += bar_h + 2
        total_busy = sum(it.duration_ms or 0 for it in iterations)
        effective = total_busy / span
        summary = (
            f'<p class="note" id="parallelism">{len(iterations)} iterations, peak'
            f" <strong>{peak}</strong> running at once; summed iteration time"
            f" {fmt_ms(total_busy)} over a wall time of {fmt_ms(span)}"
            f" (average parallelism {effective:.1f}x).</p>"
            '<div class="legend"><span class="l-succeeded">iteration succeeded</span>'
            '<span class="l-caught">retried or caught</span>'
            '<span class="l-failed">failed</span><span class="l-tick">failed attempt</span>'
            "</div>"
        )
    elif history.mode == "distributed":
        summary = (
            '<p class="note">Distributed Map: the child executions run outside this history,'
            " so their timing is not shown here.</p>"
        )
    height = y + 26
    step = _nice_step(span)
    ticks = []
    tick = 0.0
    while tick <= span + 1e-9:
        tx = x(tick)
        ticks.append(
            f'<line class="axis" x1="{tx:.1f}" y1="{top - 6:.1f}" x2="{tx:.1f}"'
            f' y2="{height - 18:.1f}"'
            ' stroke-dasharray="2 4"/>'
            f'<text class="tick" x="{tx:.1f}" y="{top - 10:.1f}" text-anchor="middle">'
            f"{fmt_ms(tick)}</text>"
        )
        tick += step
    svg = (
        '<svg class="timeline" xmlns="http://www.w3.org/2000/svg"'
        f' viewBox="0 0 {width:.0f} {height:.0f}"'
        f' role="img" aria-label="Timeline">{"".join(ticks)}{"".join(rows)}</svg>'
    )
    return (
        '<section class="card" id="timeline"><h2>Timeline'
        '<span class="hint">states and Map iterations over the execution; stacked lanes are'
        " iterations running in parallel</span></h2>"
        f"{svg}{summary}</section>"
    )
