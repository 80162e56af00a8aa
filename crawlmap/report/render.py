"""Render one execution as a single self-contained HTML page.

Inline CSS, JS and SVG only; a Content-Security-Policy forbids every network fetch. Every
piece of text that comes from the run (URLs, titles, errors, state names, JSON) goes through
html.escape: it was written by the crawled web.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any

from crawlmap.history import (
    ExecutionHistory,
    HistoryEvent,
    MapIteration,
    RunFolder,
    TaskInvocation,
    cause_message,
    load_run,
    parse_history,
)
from crawlmap.history.text import console_time
from crawlmap.report.graph import STATUS_LABEL, render_graph

MAX_EVENT_ROWS = 5000
# Above this many rows a table's rows travel once as JSON and report.js renders one page of
# PAGE_ROWS at a time (filter and sort over all of them): 100,000 <tr> would take the browser
# tens of seconds to lay out. Below it the rows are HTML, readable without the script.
PAGED_ROWS = 2000
PAGE_ROWS = 500
OUTCOMES = ("new", "changed", "unchanged", "failed", "skipped")
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)


def _asset(name: str) -> str:
    return resources.files("crawlmap.report").joinpath(name).read_text(encoding="utf-8")


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _ms(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 1000:
        return f"{value:,.0f} ms"
    return f"{value / 1000:,.2f} s"


def _offset(ts: datetime | None, t0: datetime) -> float | None:
    return None if ts is None else (ts - t0).total_seconds() * 1000


def script_json(value: Any) -> str:
    """JSON safe inside <script type="application/json">: no '<', '>' or '&' at all, so no
    '</script>' or '<!--' from a crawled title can end the element or change how it parses."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    for char, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text


def _paged_body(table_id: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """The rows of a large table as data for report.js, plus its page controls.

    columns name how report.js shows each cell: idx (the row's number, not in the data), url,
    badge (the outcome), num, ms (milliseconds), label ([text, sort key]), err, text."""
    data = {"cols": list(columns), "page": PAGE_ROWS, "rows": rows}
    return (
        f'<script type="application/json" id="{table_id}-data">{script_json(data)}</script>'
        f'<noscript><p class="note">{len(rows):,} rows: this table is drawn by the page\'s'
        " script, which is not running.</p></noscript>"
        f'<div class="pager" data-table="{table_id}">'
        '<button type="button" data-page="prev">&larr; prev</button>'
        f'<span class="range">{len(rows):,} rows</span>'
        '<button type="button" data-page="next">next &rarr;</button></div>'
    )


def _json_block(value: Any) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)
    return f'<pre class="json">{escape(text)}</pre>'


Batch = tuple[MapIteration, ExecutionHistory]  # a batch's iteration and the history holding it


def _batches(history: ExecutionHistory, run: RunFolder | None) -> tuple[Batch, ...]:
    """Every batch's iteration: the parent's (lanes included) and the kept child executions'."""
    if run is not None:
        return run.batch_iterations()
    return tuple((it, history) for it in history.batch_iterations)


def iteration_label(it: MapIteration) -> str:
    """'#3', or '#lane.index' for a batch of a lane."""
    return f"#{it.lane_id}.{it.index}" if it.lane_id is not None else f"#{it.index}"


@dataclass(frozen=True)
class PageRow:
    url: str
    outcome: str
    status: Any
    attempts: Any
    elapsed_ms: Any
    iteration: MapIteration | None
    error: str | None
    title: str | None


def _page_rows(run: RunFolder | None, history: ExecutionHistory) -> list[PageRow]:
    by_url: dict[str, MapIteration] = {}
    for it, _ in _batches(history, run):
        for url in it.pages:
            by_url.setdefault(url, it)
    rows: list[PageRow] = []
    if run is not None and run.results:
        for result in run.results:
            url = str(result.get("url") or "")
            rows.append(
                PageRow(
                    url=url,
                    outcome=str(result.get("outcome") or ("ok" if result.get("ok") else "failed")),
                    status=result.get("status"),
                    attempts=result.get("attempts"),
                    elapsed_ms=result.get("elapsed_ms"),
                    iteration=by_url.get(url),
                    error=result.get("error"),
                    title=result.get("title"),
                )
            )
        return rows
    for url, it in by_url.items():  # no results.jsonl: what the iterations say
        failed = it.caught_error is not None or it.status != "succeeded"
        rows.append(
            PageRow(
                url=url,
                outcome="failed" if failed else "ok",
                status=None,
                attempts=it.attempts,
                elapsed_ms=None,
                iteration=it,
                error=it.caught_error,
                title=None,
            )
        )
    return rows


def _summary_counts(history: ExecutionHistory, rows: Sequence[PageRow]) -> dict[str, Any]:
    output = history.output if isinstance(history.output, Mapping) else {}
    counts: dict[str, Any] = {}
    if rows:
        counts["total"] = len(rows)
        counts["ok"] = sum(1 for r in rows if r.outcome not in ("failed", "skipped"))
        for outcome in OUTCOMES:
            counts[outcome] = sum(1 for r in rows if r.outcome == outcome)
    for key in ("total", "ok", "failed", "skipped", "new", "changed", "unchanged"):
        if key not in counts and isinstance(output.get(key), int):
            counts[key] = output[key]
    if isinstance(output.get("failure_ratio"), int | float):
        counts["failure_ratio"] = output["failure_ratio"]
    elif counts.get("total"):
        denominator = counts["total"] - counts.get("skipped", 0)
        counts["failure_ratio"] = counts.get("failed", 0) / denominator if denominator else 0.0
    return counts


def _metric(name: str, value: Any, css: str = "", metric_id: str = "") -> str:
    ident = f' id="metric-{metric_id}"' if metric_id else ""
    return (
        f'<div class="metric {css}"{ident}><div class="value">{_e(value)}</div>'
        f'<div class="name">{_e(name)}</div></div>'
    )


def meta_distributed(run: RunFolder | None) -> Mapping[str, Any] | None:
    distributed = run.meta.get("distributed") if run is not None else None
    return distributed if isinstance(distributed, Mapping) else None


def _summary(history: ExecutionHistory, run: RunFolder | None, rows: Sequence[PageRow]) -> str:
    from crawlmap.cost import count_state_transitions

    counts = _summary_counts(history, rows)
    transitions = count_state_transitions(history)
    iterations = _batches(history, run)
    retries = transitions.retries
    caught = sum(1 for v in history.states if v.status == "caught")
    metrics = []
    if "total" in counts:
        metrics.append(_metric("Pages", counts["total"], "", "total"))
        metrics.append(_metric("OK", counts.get("ok", 0), "ok", "ok"))
        metrics.append(
            _metric(
                "Failed",
                counts.get("failed", 0),
                "failed" if counts.get("failed") else "",
                "failed",
            )
        )
        metrics.append(_metric("Skipped", counts.get("skipped", 0), "", "skipped"))
        for key in ("new", "changed", "unchanged"):
            metrics.append(_metric(key.capitalize(), counts.get(key, 0), "", key))
    if "failure_ratio" in counts:
        metrics.append(
            _metric("Failure ratio", f"{counts['failure_ratio']:.1%}", "", "failure-ratio")
        )
    metrics.append(_metric("Duration", _ms(history.duration_ms), "", "duration"))
    distributed = meta_distributed(run)
    if distributed is not None:
        metrics.append(
            _metric("Child executions", distributed.get("child_executions", "–"), "", "children")
        )
    if distributed is None or iterations:
        metrics.append(_metric("Map iterations", len(iterations), "", "iterations"))
    metrics.append(_metric("Retries", retries, "warn" if retries else "", "retries"))
    metrics.append(_metric("Caught errors", caught, "warn" if caught else "", "caught"))
    metrics.append(_metric("State transitions", transitions.total, "", "transitions"))
    metrics.append(_metric("Events", len(history.events), "", "events"))

    meta = run.meta if run is not None else {}
    facts = [
        ("Execution", history.execution_arn or history.name or "–"),
        ("State machine", history.state_machine_arn or "–"),
        ("Mode", meta.get("mode") or history.mode),
        ("Started", console_time(history.started_at)),
        ("Stopped", console_time(history.stopped_at) if history.stopped_at else "–"),
    ]
    if history.error:
        facts.append(
            ("Error", f"{history.error}: {history.cause}" if history.cause else history.error)
        )
    for run_map in history.maps:
        if run_map.map_run_arn:
            facts.append((f"Map Run ({run_map.name})", run_map.map_run_arn))
    facts_html = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts)
    return (
        '<section class="card" id="summary"><h2>Run summary</h2>'
        f'<div class="metrics">{"".join(metrics)}</div>'
        f'<dl class="facts">{facts_html}</dl></section>'
    )


def _graph_section(history: ExecutionHistory) -> str:
    legend = "".join(
        f'<span class="l-{key}">{_e(STATUS_LABEL[key])}</span>'
        for key in ("succeeded", "caught", "failed", "child", "not_run")
    )
    source = "definition" if history.definition else "events (no definition saved with the run)"
    return (
        '<section class="card" id="graph"><h2>State graph'
        f'<span class="hint">states from the {_e(source)}, coloured by outcome</span></h2>'
        f'<div class="graph-wrap">{render_graph(history)}</div>'
        f'<div class="legend">{legend}</div>'
        '<p class="note">Orange: a Retry or a Catch handled an error in that state. Dashed'
        " orange arrows are Catch transitions.</p></section>"
    )


def _toolbar(table_id: str, outcomes: Sequence[str], placeholder: str) -> str:
    buttons = ['<button type="button" data-outcome="all" class="active">all</button>']
    buttons += [f'<button type="button" data-outcome="{_e(o)}">{_e(o)}</button>' for o in outcomes]
    return (
        f'<div class="toolbar" data-table="{table_id}">'
        f'<input type="search" placeholder="{_e(placeholder)}" aria-label="{_e(placeholder)}">'
        f'{"".join(buttons)}<span class="count"></span></div>'
    )


def _pages_section(
    rows: Sequence[PageRow], history: ExecutionHistory, run: RunFolder | None
) -> str:
    t0 = history.started_at
    body = []
    # Distributed runs: iterations are child executions, not in the history: no such columns.
    with_iterations = any(row.iteration is not None for row in rows)
    paged = len(rows) > PAGED_ROWS
    data: list[list[Any]] = []
    for number, row in enumerate(rows, start=1):
        if paged:
            data.append(_page_data(row, t0, with_iterations))
            continue
        it = row.iteration
        iteration_cell = iteration_label(it) if it is not None else "–"
        duration = row.elapsed_ms if isinstance(row.elapsed_ms, int | float) else None
        start = _offset(it.started_at, t0) if it is not None else None
        iteration_cells = (
            f'<td class="num" data-sort="{it.index if it else -1}">{_e(iteration_cell)}</td>'
            f'<td class="num" data-sort="{start if start is not None else -1}">'
            f"{_ms(start) if start is not None else '–'}</td>"
            if with_iterations
            else ""
        )
        body.append(
            f'<tr data-outcome="{_e(row.outcome)}" data-url="{_e(row.url)}">'
            f'<td class="num">{number}</td>'
            f'<td class="url">{_e(row.url)}</td>'
            f'<td><span class="badge {_e(row.outcome)}">{_e(row.outcome)}</span></td>'
            f'<td class="num">{_e(row.status if row.status is not None else "–")}</td>'
            f'<td class="num">{_e(row.attempts if row.attempts is not None else "–")}</td>'
            f'<td class="num" data-sort="{duration if duration is not None else -1}">'
            f"{_ms(duration)}</td>{iteration_cells}"
            f'<td class="err">{_e(row.error or "")}</td>'
            f"<td>{_e(row.title or '')}</td></tr>"
        )
    present = [o for o in (*OUTCOMES, "ok") if any(r.outcome == o for r in rows)]
    source = (
        "every page of the run, from results.jsonl"
        if run is not None and run.results
        else "pages named in the Map iterations' input (no results.jsonl)"
    )
    if not rows:
        return (
            '<section class="card" id="pages"><h2>Pages</h2>'
            '<p class="note">No page results: the run stopped before crawling, or the history'
            " was saved without execution data.</p></section>"
        )
    return (
        f'<section class="card" id="pages"><h2>Pages<span class="hint">{_e(source)}</span></h2>'
        f"{_toolbar('pages-table', present, 'Filter pages by URL, error or title')}"
        '<div class="table-wrap"><table id="pages-table" class="sortable"'
        + (' data-rows="pages-table-data" data-url-column="1"' if paged else "")
        + '><thead><tr><th class="num">#</th><th>Page</th><th>Outcome</th>'
        '<th class="num">HTTP</th><th class="num">Attempts</th><th class="num">Fetch time</th>'
        + (
            '<th class="num">Iteration</th><th class="num">Iteration start</th>'
            if with_iterations
            else ""
        )
        + "<th>Error</th>"
        f"<th>Title</th></tr></thead><tbody>{''.join(body)}</tbody></table></div>"
        + (_paged_body("pages-table", _page_columns(with_iterations), data) if paged else "")
        + "</section>"
    )


def _page_columns(with_iterations: bool) -> list[str]:
    iteration = ["label", "ms"] if with_iterations else []
    return ["idx", "url", "badge", "num", "num", "ms", *iteration, "err", "text"]


def _page_data(row: PageRow, t0: datetime, with_iterations: bool) -> list[Any]:
    """One page row for report.js, in _page_columns' order (the row number is its position)."""
    duration = row.elapsed_ms if isinstance(row.elapsed_ms, int | float) else None
    cells: list[Any] = [row.url, row.outcome, row.status, row.attempts, duration]
    if with_iterations:
        it = row.iteration
        start = _offset(it.started_at, t0) if it is not None else None
        cells.append([iteration_label(it), it.index] if it is not None else None)
        cells.append(round(start, 3) if start is not None else None)
    cells.append(row.error or None)
    cells.append(row.title or None)
    return cells


ITERATION_COLUMNS = ("label", "num", "url", "badge", "num", "num", "num", "ms", "ms", "err")


def _iteration_rows(
    batches: Sequence[MapIteration], t0: datetime
) -> tuple[list[str], list[list[Any]]]:
    """The iterations table's rows: HTML, or data for report.js above PAGED_ROWS."""
    rows: list[str] = []
    data: list[list[Any]] = []
    for number, it in enumerate(batches):
        first = it.pages[0] if it.pages else ""
        more = f" (+{len(it.pages) - 1} more)" if len(it.pages) > 1 else ""
        if not it.pages and it.page_count is not None:
            first = f"{it.page_count} pages"
        error = it.caught_error or ""
        if error and it.caught_cause:
            error = f"{error}: {_cause_text(it.caught_cause)}"
        start = _offset(it.started_at, t0)
        if len(batches) > PAGED_ROWS:
            data.append(
                [
                    [iteration_label(it)[1:], number],
                    it.batch_id,
                    f"{first}{more}",
                    it.outcome,
                    it.attempts,
                    it.pages_ok,
                    it.pages_failed,
                    round(start, 3) if start is not None else None,
                    it.duration_ms,
                    error or None,
                ]
            )
            continue
        rows.append(
            f'<tr data-outcome="{_e(it.outcome)}">'
            f'<td class="num" data-sort="{number}">{_e(iteration_label(it)[1:])}</td>'
            f'<td class="num">{_e(it.batch_id if it.batch_id is not None else "–")}</td>'
            f'<td class="url">{_e(first)}{_e(more)}</td>'
            f'<td><span class="badge {_e(it.outcome)}">{_e(it.outcome)}</span></td>'
            f'<td class="num">{it.attempts}</td>'
            f'<td class="num">{_e(it.pages_ok if it.pages_ok is not None else "–")}</td>'
            f'<td class="num">{_e("–" if it.pages_failed is None else it.pages_failed)}</td>'
            f'<td class="num" data-sort="{start}">{_ms(start)}</td>'
            f'<td class="num" data-sort="{it.duration_ms or 0}">{_ms(it.duration_ms)}</td>'
            f'<td class="err">{_e(error)}</td></tr>'
        )
    return rows, data


def _iterations_section(history: ExecutionHistory, run: RunFolder | None = None) -> str:
    t0 = history.started_at
    parts = []
    children = run.children if run is not None else ()
    for run_map in (m for m in history.maps if m.iteration is None):
        if run_map.mode == "distributed":
            batches = [it for _, child in children for it in child.batch_iterations]
            if not batches:
                parts.append(
                    f'<p class="note">{_e(run_map.name)} ran as a Distributed Map'
                    f" ({_e(run_map.status)}): its iterations are child executions of Map Run"
                    f" {_e(run_map.map_run_arn or '')} and are not in this history; the Pages"
                    " table lists each page's outcome.</p>"
                )
                continue
            where = f"{len(children)} child executions (lanes), kept in the run folder"
        else:
            batches = [it for inner in history.batch_maps(run_map) for it in inner.iterations]
            nested = history.batch_maps(run_map) != (run_map,)
            where = f"{len(run_map.iterations)} lanes" if nested else ""
        rows, data = _iteration_rows(batches, t0)
        outcomes = sorted({it.outcome for it in batches})
        table_id = f"iterations-{len(parts)}"
        paged = f' data-rows="{table_id}-data"' if data else ""
        parts.append(
            f"<h3>{_e(run_map.name)} "
            f'<span class="badge {_e(run_map.status)}">{_e(run_map.status)}</span>'
            + (f' <span class="hint">{len(batches)} batches in {_e(where)}</span>' if where else "")
            + "</h3>"
            f"{_toolbar(table_id, outcomes, 'Filter iterations')}"
            f'<div class="table-wrap"><table id="{table_id}" class="sortable iterations"{paged}>'
            "<thead><tr>"
            '<th class="num">Index</th><th class="num">Batch</th><th>Pages</th><th>Outcome</th>'
            '<th class="num">Attempts</th><th class="num">OK</th><th class="num">Failed</th>'
            '<th class="num">Start</th><th class="num">Duration</th><th>Error</th>'
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
            + (_paged_body(table_id, ITERATION_COLUMNS, data) if data else "")
        )
    if not parts:
        parts.append('<p class="note">This execution ran no Map state.</p>')
    return (
        '<section class="card" id="iterations"><h2>Map iterations'
        '<span class="hint">one per batch; retries and caught errors per iteration</span></h2>'
        f"{''.join(parts)}</section>"
    )


def _cause_text(cause: str | None) -> str:
    return cause_message(cause) or ""


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


def _timeline_section(history: ExecutionHistory, run: RunFolder | None = None) -> str:
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
        start = _offset(visit.entered_at, t0) or 0.0
        stop = _offset(visit.exited_at, t0) or start
        bar_w = max(x(stop) - x(start), 2.0)
        rows.append(
            f'<text class="lane-label" x="{label_w - 8:.0f}" y="{y + 11:.1f}" text-anchor="end">'
            f"{_e(visit.name)}</text>"
            f'<rect class="bar state {visit.status}" x="{x(start):.1f}" y="{y + 2:.1f}"'
            f' width="{bar_w:.1f}" height="12"><title>{_e(visit.name)}: {_ms(visit.duration_ms)}'
            f" ({_e(visit.status)})</title></rect>"
        )
        y += 18
    batches = _batches(history, run)
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
                start = _offset(it.started_at, t0) or 0.0
                finish = _offset(it.ended_at, t0)
                bar_w = max(x(span if finish is None else finish) - x(start), 1.5)
                pages = ", ".join(it.pages[:3])
                label = iteration_label(it)
                rows.append(
                    f'<rect class="bar {it.outcome}" data-iteration="{it.index}" x="{x(start):.1f}"'
                    f' y="{y:.1f}" width="{bar_w:.1f}" height="{bar_h:.1f}"><title>{label}'
                    f" {_e(it.outcome)} {_ms(it.duration_ms)}, attempts {it.attempts}: {_e(pages)}"
                    "</title></rect>"
                )
                key = (id(owner_of[id(it)]), it.scope)
                for failed in failed_attempts.get(key, []):
                    at = x(_offset(failed.ended_at or failed.scheduled_at, t0) or 0.0)
                    rows.append(
                        f'<line class="attempt-failed" x1="{at:.1f}" y1="{y - 1:.1f}"'
                        f' x2="{at:.1f}" y2="{y + bar_h + 1:.1f}"><title>attempt'
                        f" {failed.attempt} {_e(failed.outcome)}: {_e(failed.error)}</title></line>"
                    )
            y += bar_h + 2
        total_busy = sum(it.duration_ms or 0 for it in iterations)
        effective = total_busy / span
        summary = (
            f'<p class="note" id="parallelism">{len(iterations)} iterations, peak'
            f" <strong>{peak}</strong> running at once; summed iteration time"
            f" {_ms(total_busy)} over a wall time of {_ms(span)}"
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
            f"{_ms(tick)}</text>"
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


def _event_detail(event_details: Mapping[str, Any]) -> str:
    for key in ("error",):
        if event_details.get(key):
            cause = _cause_text(event_details.get("cause"))
            return f"{event_details[key]}: {cause}" if cause else str(event_details[key])
    if "index" in event_details:
        return f"index {event_details['index']}"
    if "length" in event_details:
        return f"{event_details['length']} items"
    if "mapRunArn" in event_details:
        return str(event_details["mapRunArn"])
    params = event_details.get("parameters")
    if isinstance(params, str):
        try:
            name = json.loads(params).get("FunctionName")
        except (ValueError, AttributeError):
            name = None
        if isinstance(name, str):
            return name.rsplit(":", 1)[-1]
    return ""


def _distributed_items(history: ExecutionHistory, run: RunFolder | None) -> str | None:
    """A distributed Map's item count: its child executions (the parent's event says 0)."""
    distributed = meta_distributed(run)
    count = distributed.get("child_executions") if distributed is not None else None
    if run is not None and run.children:
        count = len(run.children)
    return f"{count} items (child executions)" if isinstance(count, int) else None


def _events_section(history: ExecutionHistory, run: RunFolder | None = None) -> str:
    t0 = history.started_at
    rows = []
    distributed_maps = {m.name for m in history.maps if m.mode == "distributed"}
    items = _distributed_items(history, run) if distributed_maps else None

    def detail(event: HistoryEvent) -> str:
        if (
            items is not None
            and event.type == "MapStateStarted"
            and event.state in distributed_maps
            and not event.details.get("length")
        ):
            return items
        return _event_detail(event.details)

    for event in history.events[:MAX_EVENT_ROWS]:
        offset = _offset(event.timestamp, t0) or 0.0
        kind = "failed" if ("Failed" in event.type or "TimedOut" in event.type) else ""
        iteration = f"{event.iteration[0]} #{event.iteration[1]}" if event.iteration else ""
        rows.append(
            f'<tr data-outcome="{kind or "other"}"><td class="num">{event.id}</td>'
            f'<td class="num">{event.previous_id}</td>'
            f'<td class="num" data-sort="{offset}">{offset:,.0f} ms</td>'
            f"<td>{_e(event.type)}</td><td>{_e(event.state or '')}</td><td>{_e(iteration)}</td>"
            f'<td class="{"err" if kind else ""}">{_e(detail(event))}</td></tr>'
        )
    more = ""
    if len(history.events) > MAX_EVENT_ROWS:
        more = (
            f'<p class="note">Showing the first {MAX_EVENT_ROWS:,} of {len(history.events):,}'
            " events; `crawlmap history RUN --json --events` prints them all.</p>"
        )
    return (
        '<section class="card" id="events"><h2>Events'
        f'<span class="hint">{len(history.events)} events, as GetExecutionHistory returns them'
        "</span></h2>"
        f"{_toolbar('events-table', ['failed'], 'Filter events by type, state or error')}"
        '<div class="table-wrap"><table id="events-table" class="sortable"><thead><tr>'
        '<th class="num">ID</th><th class="num">Previous</th><th class="num">Time</th>'
        "<th>Type</th><th>State</th><th>Iteration</th><th>Detail</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>{more}</section>"
    )


def _quantity(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.3f}"


def _dollars(value: float) -> str:
    return f"${value:.8f}" if 0 < value < 0.00001 else f"${value:.6f}"


def _cost_section(run: RunFolder | None) -> str:
    """What the run would cost on AWS (crawlmap cost), when meta.json has the figures."""
    from crawlmap.cost import CostError, estimate_run

    if run is None or not run.meta:
        return ""
    try:
        b = estimate_run(run)
    except (CostError, KeyError, TypeError, ValueError):
        return ""
    rows = "".join(
        f"<tr><td>{_e(line.service)}</td><td>{_e(line.item)}</td>"
        f'<td class="num">{_quantity(line.quantity)}</td><td class="num">{_dollars(line.usd)}</td>'
        "</tr>"
        for line in b.lines
        if line.quantity
    )
    ratio = f"{b.ratio:,.1f}x" if b.ratio != float("inf") else "n/a"
    return (
        '<section class="card" id="cost"><h2>Cost on AWS'
        f'<span class="hint">estimate, {_e(b.region)} list prices as of {_e(b.prices_as_of)};'
        " crawlmap cost RUN --pages N scales it</span></h2>"
        '<div class="metrics">'
        f"{_metric('Total', f'${b.total_usd:.5f}', '', 'cost-total')}"
        f"{_metric('Compute + orchestration', f'${b.compute_orchestration_usd:.5f}')}"
        f"{_metric('Billed transitions', f'{b.billed_state_transitions:,.0f}', '', 'billed')}"
        f"{_metric('Naive design', f'${b.naive.total_usd:.5f}')}"
        f"{_metric('Cheaper than naive', ratio)}</div>"
        '<div class="table-wrap" style="margin-top:12px"><table><thead><tr><th>Service</th>'
        '<th>Item</th><th class="num">Quantity</th><th class="num">USD</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></div></section>"
    )


def _output_section(history: ExecutionHistory) -> str:
    parts = ['<section class="card" id="output"><h2>Execution output</h2>']
    if history.output is not None:
        parts.append(_json_block(history.output))
    elif history.error:
        parts.append(
            f'<p class="note">The execution {_e(history.status)} with {_e(history.error)}:'
            f" {_e(history.cause or '')}</p>"
        )
    else:
        parts.append('<p class="note">No output.</p>')
    if history.input is not None:
        parts.append("<h3>Input</h3>")
        parts.append(_json_block(history.input))
    parts.append("</section>")
    return "".join(parts)


def render_report(run: RunFolder | ExecutionHistory) -> str:
    """The report page as a string."""
    folder = run if isinstance(run, RunFolder) else None
    history = run.history if isinstance(run, RunFolder) else run
    rows = _page_rows(folder, history)
    title = history.name or (
        history.execution_arn.rsplit(":", 1)[-1] if history.execution_arn else "execution history"
    )
    head = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>crawlmap · {_e(title)}</title><style>{_asset('report.css')}</style></head>"
    )
    header = (
        '<body><header class="top"><h1>crawlmap execution report: '
        f'<span id="run-id">{_e(title)}</span>'
        f'<span class="badge {_e(history.status)}" id="run-status">{_e(history.status)}</span></h1>'
        f'<div class="sub">{_e(history.execution_arn or "")}</div></header><main>'
    )
    body = "".join(
        [
            _summary(history, folder, rows),
            _graph_section(history),
            _pages_section(rows, history, folder),
            _timeline_section(history, folder),
            _iterations_section(history, folder),
            _events_section(history, folder),
            _cost_section(folder),
            _output_section(history),
        ]
    )
    footer = (
        "</main><footer>Generated by crawlmap from the execution history"
        f" ({len(history.events)} events). Self-contained: no network needed.</footer>"
        f"<script>{_asset('report.js')}</script></body></html>"
    )
    return head + header + body + footer


def write_report(run_dir_or_history: Any, out_path: Path | str) -> Path:
    """Write the report for a run folder / history.json path, a RunFolder, an ExecutionHistory,
    or a GetExecutionHistory document ({'events': [...]}). Returns the written path."""
    source = run_dir_or_history
    if isinstance(source, str | Path):
        source = load_run(Path(source))
    elif isinstance(source, Mapping):
        source = parse_history(source)
    if not isinstance(source, RunFolder | ExecutionHistory):
        raise TypeError(
            "write_report: expected a run folder, history path, RunFolder or ExecutionHistory"
        )
    out = Path(out_path)
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(source), encoding="utf-8")
    return out
