"""An execution history as plain text, as the console's execution history shows it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from crawlmap.history.model import (
    ExecutionHistory,
    MapIteration,
    MapRun,
    StateVisit,
    TaskInvocation,
)
from crawlmap.history.parse import json_or_text


def _clock(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%H:%M:%S.%f")[:-3]


def _secs(ms: float | None) -> str:
    return "-" if ms is None else f"{ms / 1000:.3f}s"


def _short(text: str | None, limit: int = 90) -> str:
    if not text:
        return ""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def cause_message(cause: str | None) -> str | None:
    """A Lambda error's errorMessage when the cause is its JSON, else the cause as given."""
    parsed = json_or_text(cause)
    if isinstance(parsed, Mapping) and isinstance(parsed.get("errorMessage"), str):
        return parsed["errorMessage"]
    return cause


OUTPUT_LINES = 40  # of pretty-printed Output JSON before "... N more lines"


def console_time(ts: datetime) -> str:
    """A time as the console shows it: UTC, milliseconds ('2026-11-26 10:00:54.100 UTC')."""
    return ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def _title(history: ExecutionHistory) -> str:
    if history.name:
        return f"Execution {history.name}"
    if history.execution_arn:
        return f"Execution {history.execution_arn.rsplit(':', 1)[-1]}"
    return "Execution history (no name or ARN recorded)"


def _pretty(value: object, limit: int = OUTPUT_LINES) -> list[str]:
    text = json.dumps(value, ensure_ascii=False, indent=2).splitlines()
    shown = ["  " + line for line in text[:limit]]
    if len(text) > limit:
        shown.append(f"  ... {len(text) - limit} more lines (--json prints all)")
    return shown


def format_history(
    history: ExecutionHistory,
    *,
    show_iterations: int | None = None,
    children: Sequence[tuple[str, ExecutionHistory]] = (),
) -> str:
    """The execution as the console's history shows it, as plain text.

    show_iterations limits how many batch iterations are listed per Map (None: all); failed,
    caught and retried iterations are always listed. `children` are a distributed Map's
    child executions (name, history) when the run folder kept them.
    """
    lines: list[str] = [_title(history)]
    if history.execution_arn:
        lines.append(f"  ARN       {history.execution_arn}")
    lines.append(
        f"  Status    {history.status}   started {console_time(history.started_at)}"
        f"   duration {_secs(history.duration_ms)}   events {len(history.events)}"
    )
    if history.error:
        lines.append(f"  Error     {history.error}: {_short(history.cause, 200)}")
    lines.append("")
    lines.append(
        f"  {'Entered':<12} {'Exited':<12} {'Duration':>9}  {'State':<28} {'Type':<8} Result"
    )
    maps_by_visit = {(m.name, m.started_at): m for m in history.maps}
    for visit in history.states:
        if visit.iteration is not None:
            continue
        lines.append(_visit_line(visit, indent=""))
        if visit.type == "Map":
            run = maps_by_visit.get((visit.name, visit.entered_at)) or next(
                (m for m in history.maps if m.name == visit.name and m.iteration is None), None
            )
            if run is not None:
                lines.extend(_map_lines(run, history, show_iterations, children))
    if history.output is not None:
        lines.append("")
        lines.append("Output")
        lines.extend(_pretty(history.output))
    return "\n".join(lines)


def _visit_line(visit: StateVisit, *, indent: str) -> str:
    result: str = visit.status
    if visit.retries:
        result += f" after {visit.retries} {'retry' if visit.retries == 1 else 'retries'}"
    if visit.error and visit.status in ("retried", "caught", "failed"):
        message = f"{visit.error}: {_short(cause_message(visit.cause), 70)}"
        result += f" (last error {message})" if visit.status == "retried" else f" {message}"
    name = f"{indent}{visit.name}"
    exited = _clock(visit.exited_at) if visit.exited_at else "-"
    return (
        f"  {_clock(visit.entered_at):<12} {exited:<12} {_secs(visit.duration_ms):>9}"
        f"  {name:<28} {visit.type:<8} {result}"
    )


# (label, iteration, the history holding its task events)
_Row = tuple[str, MapIteration, ExecutionHistory]


def _batch_rows(run: MapRun, history: ExecutionHistory) -> list[_Row]:
    """Each batch's iteration under `run`, labelled #index (or #lane.batch when nested)."""
    rows: list[_Row] = []
    for inner in history.batch_maps(run):
        outer = f"{inner.iteration[1]}." if inner is not run and inner.iteration else ""
        rows.extend((f"#{outer}{it.index}", it, history) for it in inner.iterations)
    return rows


def _map_lines(
    run: MapRun,
    history: ExecutionHistory,
    limit: int | None,
    children: Sequence[tuple[str, ExecutionHistory]] = (),
) -> list[str]:
    lines: list[str] = []
    if run.mode == "distributed":
        lines.append(
            f"      distributed Map Run {run.map_run_arn or ''} ({run.status});"
            + (
                f" {len(children)} child executions (kept in the run folder)"
                if children
                else " child executions run outside this history"
            )
        )
        if not children:
            return lines
        rows: list[_Row] = []
        for name, child in children:
            for top in (m for m in child.maps if m.iteration is None):
                lane = _lane_label(name, top)
                rows.extend(
                    (f"#{lane}.{it.index}", it, child)
                    for inner in child.batch_maps(top)
                    for it in inner.iterations
                )
    else:
        rows = _batch_rows(run, history)
    iterations = [it for _, it, _ in rows]
    ok_pages = sum(it.pages_ok or 0 for it in iterations)
    failed_pages = sum(it.pages_failed or 0 for it in iterations)
    retried = sum(1 for it in iterations if it.retried)
    caught = sum(1 for it in iterations if it.caught_error)
    nested = run.mode == "distributed" or history.batch_maps(run) != (run,)
    if nested:
        lanes = len(children) if run.mode == "distributed" else len(run.iterations)
        counted = f"{len(rows)} batches in {lanes} lanes"
    else:
        counted = f"{len(rows)} iterations"
    items = run.length if run.length else (len(children) if children else run.length)
    if ok_pages or failed_pages or run.mode != "distributed":
        pages = f"pages ok {ok_pages}, failed {failed_pages}"
    else:  # distributed batches return a page count, not each page's outcome
        pages = f"pages {sum(it.page_count or 0 for it in iterations)} in batches that returned"
    lines.append(
        f"      {counted} (items {items if items is not None else '?'}):"
        f" {pages}; {retried} retried, {caught} caught"
    )
    failed_tasks: dict[tuple[int, tuple[tuple[int, int], ...]], list[TaskInvocation]] = {}
    for owner in {id(o): o for _, _, o in rows}.values():
        for task in owner.tasks:
            if task.outcome != "succeeded":
                failed_tasks.setdefault((id(owner), task.scope), []).append(task)
    shown = 0
    for label, it, owner in rows:
        notable = it.outcome != "succeeded"
        if limit is not None and shown >= limit and not notable:
            continue
        shown += 1
        failed = failed_tasks.get((id(owner), it.scope), [])
        lines.extend(_iteration_lines(label, it, failed))
    hidden = len(rows) - shown
    if hidden > 0:
        lines.append(f"      ... {hidden} more succeeded iterations (use --all)")
    return lines


def _lane_label(child_name: str, top: MapRun) -> str:
    """A child's lane id: from its batches' inputs, else the child's name."""
    for it in top.iterations:
        if it.lane_id is not None:
            return str(it.lane_id)
    return child_name


def _iteration_lines(label: str, it: MapIteration, failed: list[TaskInvocation]) -> list[str]:
    pages = ", ".join(it.pages[:2]) + (f" +{len(it.pages) - 2}" if len(it.pages) > 2 else "")
    if it.pages_ok is not None:
        counts = f"ok {it.pages_ok} failed {it.pages_failed}"
    elif it.page_count is not None:
        counts = f"{it.page_count} pages"
    else:
        counts = "no data"
    line = (
        f"      {label:<5} {_clock(it.started_at)} {_secs(it.duration_ms):>8}  "
        f"{it.outcome:<9} attempts {it.attempts}  {counts}"
    )
    if it.batch_id is not None:
        line += f"  batch {it.batch_id}"
    if pages:
        line += f"  [{_short(pages, 80)}]"
    lines = [line]
    for task in failed:
        lines.append(
            f"             attempt {task.attempt} of {task.state} {task.outcome} at"
            f" {_clock(task.ended_at or task.scheduled_at)}: {task.error}:"
            f" {_short(cause_message(task.cause), 70)}"
        )
    if it.caught_error:
        lines.append(
            f"             caught {it.caught_error}: {_short(cause_message(it.caught_cause), 80)}"
        )
    return lines
