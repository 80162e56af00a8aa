"""What a finished run leaves and shows: definition.json in its folder, --output's lines, the
--json summary and the summary printed."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from crawlmap.cli.exits import UsageError
from crawlmap.console import CrawlProgress, summary_table, where_table
from crawlmap.engine.errors import EngineError
from crawlmap.engine.runner import RunRecord
from crawlmap.engine.template import definition_of
from crawlmap.runfolder import RunFolderWriter


def save_definition(record: RunRecord, template: Mapping[str, Any] | None) -> None:
    """definition.json in the run folder (the loader reads it, as for deployed runs), so the
    report draws the whole state graph as the console does, states that did not run included."""
    target = record.run_dir / "definition.json"
    if template is None or target.exists() or not record.run_dir.is_dir():
        return
    try:
        # The graph needs the structure only: resources keep their logical ids.
        definition = definition_of(template, lambda logical_id, attribute: logical_id)
    except (EngineError, ValueError):
        return
    RunFolderWriter(record.run_dir).write_definition(definition)


def output_rows(record: RunRecord, pages: Sequence[str]) -> list[dict[str, Any]]:
    """One row per input page (every page exactly once), then any other result of the run."""
    by_url = {str(r["url"]): r for r in record.results}
    rows: list[dict[str, Any]] = []
    for url in pages:
        result = by_url.pop(url, None)
        if result is None:  # the run ended before this page was stored (e.g. it failed early)
            reason = record.cause or record.error or "not crawled"
            result = {
                "url": url,
                "final_url": None,
                "ok": False,
                "outcome": "failed",
                "status": None,
                "title": None,
                "attempts": 0,
                "error": f"run {record.status.lower()}: {reason}",
            }
        rows.append(result)
    rows.extend(by_url.values())
    return rows


def write_output(path: str, rows: Sequence[dict[str, Any]]) -> None:
    try:
        with Path(path).open("w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise UsageError(f"--output {path}: cannot write it ({exc.strerror})") from None


def json_summary(record: RunRecord) -> dict[str, Any]:
    data: dict[str, Any] = dict(record.summary or {})
    data.update(run_id=record.run_id, status=record.status, run_dir=str(record.run_dir))
    if record.status != "SUCCEEDED":
        data.update(error=record.error, cause=record.cause)
    return data


def ratio_exceeded_reason(record: RunRecord) -> str | None:
    """Why RunFailed failed the run, for a definition whose Fail state has no Cause."""
    summary = record.summary or {}
    if record.error != "FailureRatioExceeded" or not summary:
        return None
    attempted = int(summary.get("total", 0)) - int(summary.get("skipped", 0))
    return (
        f"{summary.get('failed')} of {attempted} attempted pages failed "
        f"({float(summary.get('failure_ratio', 0)):.0%}), more than failure_ratio allows"
    )


def print_outcome(
    console: Console, record: RunRecord, progress: CrawlProgress, *, failures: bool = True
) -> None:
    if record.summary:
        console.print(summary_table(record.summary, status=record.status, retried=progress.retried))
        for failure in (record.summary.get("first_failures") or []) if failures else []:
            console.print(f"  [red]failed[/] {failure.get('url')}  {failure.get('error')}")
    if record.status != "SUCCEEDED":
        reason = record.cause or ratio_exceeded_reason(record)
        cause = f": {reason}" if reason else ""
        console.print(f"[bold red]{record.status}[/] {record.error}{cause}", highlight=False)
    console.print(where_table(record.run_id, record.run_dir))
