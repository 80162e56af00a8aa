"""The report's tables: pages, Map iterations and events (paged above PAGED_ROWS rows)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from crawlmap.history import ExecutionHistory, HistoryEvent, MapIteration, RunFolder
from crawlmap.report.markup import esc, fmt_ms, offset_ms, toolbar
from crawlmap.report.paging import is_paged, paged_body
from crawlmap.report.rows import (
    OUTCOMES,
    PageRow,
    cause_text,
    iteration_label,
    meta_distributed,
)

MAX_EVENT_ROWS = 5000


def pages_section(rows: Sequence[PageRow], history: ExecutionHistory, run: RunFolder | None) -> str:
    t0 = history.started_at
    body = []
    # Distributed runs: iterations are child executions, not in the history: no such columns.
    with_iterations = any(row.iteration is not None for row in rows)
    paged = is_paged(len(rows))
    data: list[list[Any]] = []
    for number, row in enumerate(rows, start=1):
        if paged:
            data.append(_page_data(row, t0, with_iterations))
            continue
        it = row.iteration
        iteration_cell = iteration_label(it) if it is not None else "–"
        duration = row.elapsed_ms if isinstance(row.elapsed_ms, int | float) else None
        start = offset_ms(it.started_at, t0) if it is not None else None
        iteration_cells = (
            f'<td class="num" data-sort="{it.index if it else -1}">{esc(iteration_cell)}</td>'
            f'<td class="num" data-sort="{start if start is not None else -1}">'
            f"{fmt_ms(start) if start is not None else '–'}</td>"
            if with_iterations
            else ""
        )
        body.append(
            f'<tr data-outcome="{esc(row.outcome)}" data-url="{esc(row.url)}">'
            f'<td class="num">{number}</td>'
            f'<td class="url">{esc(row.url)}</td>'
            f'<td><span class="badge {esc(row.outcome)}">{esc(row.outcome)}</span></td>'
            f'<td class="num">{esc(row.status if row.status is not None else "–")}</td>'
            f'<td class="num">{esc(row.attempts if row.attempts is not None else "–")}</td>'
            f'<td class="num" data-sort="{duration if duration is not None else -1}">'
            f"{fmt_ms(duration)}</td>{iteration_cells}"
            f'<td class="err">{esc(row.error or "")}</td>'
            f"<td>{esc(row.title or '')}</td></tr>"
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
        f'<section class="card" id="pages"><h2>Pages<span class="hint">{esc(source)}</span></h2>'
        f"{toolbar('pages-table', present, 'Filter pages by URL, error or title')}"
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
        + (paged_body("pages-table", _page_columns(with_iterations), data) if paged else "")
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
        start = offset_ms(it.started_at, t0) if it is not None else None
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
            error = f"{error}: {cause_text(it.caught_cause)}"
        start = offset_ms(it.started_at, t0)
        if is_paged(len(batches)):
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
            f'<tr data-outcome="{esc(it.outcome)}">'
            f'<td class="num" data-sort="{number}">{esc(iteration_label(it)[1:])}</td>'
            f'<td class="num">{esc(it.batch_id if it.batch_id is not None else "–")}</td>'
            f'<td class="url">{esc(first)}{esc(more)}</td>'
            f'<td><span class="badge {esc(it.outcome)}">{esc(it.outcome)}</span></td>'
            f'<td class="num">{it.attempts}</td>'
            f'<td class="num">{esc(it.pages_ok if it.pages_ok is not None else "–")}</td>'
            f'<td class="num">{esc("–" if it.pages_failed is None else it.pages_failed)}</td>'
            f'<td class="num" data-sort="{start}">{fmt_ms(start)}</td>'
            f'<td class="num" data-sort="{it.duration_ms or 0}">{fmt_ms(it.duration_ms)}</td>'
            f'<td class="err">{esc(error)}</td></tr>'
        )
    return rows, data


def iterations_section(history: ExecutionHistory, run: RunFolder | None = None) -> str:
    t0 = history.started_at
    parts = []
    children = run.children if run is not None else ()
    for run_map in (m for m in history.maps if m.iteration is None):
        if run_map.mode == "distributed":
            batches = [it for _, child in children for it in child.batch_iterations]
            if not batches:
                parts.append(
                    f'<p class="note">{esc(run_map.name)} ran as a Distributed Map'
                    f" ({esc(run_map.status)}): its iterations are child executions of Map Run"
                    f" {esc(run_map.map_run_arn or '')} and are not in this history; the Pages"
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
            f"<h3>{esc(run_map.name)} "
            f'<span class="badge {esc(run_map.status)}">{esc(run_map.status)}</span>'
            + (
                f' <span class="hint">{len(batches)} batches in {esc(where)}</span>'
                if where
                else ""
            )
            + "</h3>"
            f"{toolbar(table_id, outcomes, 'Filter iterations')}"
            f'<div class="table-wrap"><table id="{table_id}" class="sortable iterations"{paged}>'
            "<thead><tr>"
            '<th class="num">Index</th><th class="num">Batch</th><th>Pages</th><th>Outcome</th>'
            '<th class="num">Attempts</th><th class="num">OK</th><th class="num">Failed</th>'
            '<th class="num">Start</th><th class="num">Duration</th><th>Error</th>'
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
            + (paged_body(table_id, ITERATION_COLUMNS, data) if data else "")
        )
    if not parts:
        parts.append('<p class="note">This execution ran no Map state.</p>')
    return (
        '<section class="card" id="iterations"><h2>Map iterations'
        '<span class="hint">one per batch; retries and caught errors per iteration</span></h2>'
        f"{''.join(parts)}</section>"
    )


def _event_detail(event_details: Mapping[str, Any]) -> str:
    for key in ("error",):
        if event_details.get(key):
            cause = cause_text(event_details.get("cause"))
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


def events_section(history: ExecutionHistory, run: RunFolder | None = None) -> str:
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
        offset = offset_ms(event.timestamp, t0) or 0.0
        kind = "failed" if ("Failed" in event.type or "TimedOut" in event.type) else ""
        iteration = f"{event.iteration[0]} #{event.iteration[1]}" if event.iteration else ""
        rows.append(
            f'<tr data-outcome="{kind or "other"}"><td class="num">{event.id}</td>'
            f'<td class="num">{event.previous_id}</td>'
            f'<td class="num" data-sort="{offset}">{offset:,.0f} ms</td>'
            f"<td>{esc(event.type)}</td><td>{esc(event.state or '')}</td><td>{esc(iteration)}</td>"
            f'<td class="{"err" if kind else ""}">{esc(detail(event))}</td></tr>'
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
        f"{toolbar('events-table', ['failed'], 'Filter events by type, state or error')}"
        '<div class="table-wrap"><table id="events-table" class="sortable"><thead><tr>'
        '<th class="num">ID</th><th class="num">Previous</th><th class="num">Time</th>'
        "<th>Type</th><th>State</th><th>Iteration</th><th>Detail</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>{more}</section>"
    )
