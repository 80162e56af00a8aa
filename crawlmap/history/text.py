"""An execution history as plain text, as the console's execution history shows it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime

from crawlmap.history.model import ExecutionHistory, MapRun, StateVisit, TaskInvocation
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


def format_history(history: ExecutionHistory, *, show_iterations: int | None = None) -> str:
    """The execution as the console's history shows it, as plain text.

    show_iterations limits how many Map iterations are listed per Map (None: all); failed,
    caught and retried iterations are always listed.
    """
    lines: list[str] = []
    title = history.name or history.execution_arn or "execution"
    lines.append(f"Execution {title}")
    if history.execution_arn:
        lines.append(f"  ARN       {history.execution_arn}")
    lines.append(
        f"  Status    {history.status}   started {history.started_at.isoformat()}"
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
                lines.extend(_map_lines(run, history, show_iterations))
    if history.output is not None:
        lines.append("")
        lines.append("Output")
        lines.append("  " + _short(json.dumps(history.output, ensure_ascii=False), 400))
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


def _map_lines(run: MapRun, history: ExecutionHistory, limit: int | None) -> list[str]:
    lines: list[str] = []
    if run.mode == "distributed":
        lines.append(
            f"      distributed Map Run {run.map_run_arn or ''} ({run.status}); child executions"
            " run outside this history"
        )
        return lines
    total = len(run.iterations)
    ok_pages = sum(it.pages_ok or 0 for it in run.iterations)
    failed_pages = sum(it.pages_failed or 0 for it in run.iterations)
    retried = sum(1 for it in run.iterations if it.retried)
    caught = sum(1 for it in run.iterations if it.caught_error)
    lines.append(
        f"      {total} iterations (items {run.length if run.length is not None else '?'}):"
        f" pages ok {ok_pages}, failed {failed_pages}; {retried} retried, {caught} caught"
    )
    failed_tasks: dict[tuple[str, int] | None, list[TaskInvocation]] = {}
    for task in history.tasks:
        if task.outcome != "succeeded":
            failed_tasks.setdefault(task.iteration, []).append(task)
    shown = 0
    for it in run.iterations:
        notable = it.outcome != "succeeded"
        if limit is not None and shown >= limit and not notable:
            continue
        shown += 1
        pages = ", ".join(it.pages[:2]) + (f" +{len(it.pages) - 2}" if len(it.pages) > 2 else "")
        counts = (
            f"ok {it.pages_ok} failed {it.pages_failed}" if it.pages_ok is not None else "no data"
        )
        line = (
            f"      #{it.index:<4} {_clock(it.started_at)} {_secs(it.duration_ms):>8}  "
            f"{it.outcome:<9} attempts {it.attempts}  {counts}"
        )
        if it.batch_id is not None:
            line += f"  batch {it.batch_id}"
        if pages:
            line += f"  [{_short(pages, 80)}]"
        lines.append(line)
        for task in failed_tasks.get((run.name, it.index), []):
            lines.append(
                f"             attempt {task.attempt} of {task.state} {task.outcome} at"
                f" {_clock(task.ended_at or task.scheduled_at)}: {task.error}:"
                f" {_short(cause_message(task.cause), 70)}"
            )
        if it.caught_error:
            lines.append(
                f"             caught {it.caught_error}:"
                f" {_short(cause_message(it.caught_cause), 80)}"
            )
    hidden = total - shown
    if hidden > 0:
        lines.append(f"      ... {hidden} more succeeded iterations (use --all)")
    return lines
