"""What `crawlmap run` and `crawlmap demo` show on the terminal: live progress and the summary.

Everything goes to stderr except what a command is asked to print (its --json object), so
stdout stays machine-readable.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from crawlmap.engine.adapter import Invocation

OUTCOME_STYLE = {
    "new": "green",
    "changed": "cyan",
    "unchanged": "dim",
    "failed": "red",
    "skipped": "yellow",
}


class PagesPerSecond(ProgressColumn):
    """The crawl's speed, averaged by rich over its recent updates."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.1f} pages/s" if speed else "", style="cyan")


class CrawlProgress:
    """Counts pages as CrawlBatch invocations finish and shows them as a live progress bar."""

    def __init__(self, console: Console, *, enabled: bool = True) -> None:
        self.total: int | None = None
        self.done = 0
        self.ok = 0
        self.failed = 0
        self.skipped = 0
        self.retried = 0
        self._lock = threading.Lock()
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            PagesPerSecond(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
            disable=not enabled,
        )
        self._task = self._progress.add_task("listing pages", total=None, detail="", start=False)

    def __enter__(self) -> CrawlProgress:
        self._progress.start_task(self._task)  # the clock starts with the run, not before
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._refresh()
        self._progress.stop()

    def _refresh(self) -> None:
        detail = (
            f"[green]{self.ok} ok[/] [red]{self.failed} failed[/] "
            f"[yellow]{self.skipped} skipped[/] [magenta]{self.retried} retried[/]"
        )
        description = "crawling" if self.total is not None else "listing pages"
        self._progress.update(
            self._task,
            completed=self.done,
            total=self.total,
            detail=detail,
            description=description,
        )

    def __call__(self, invocation: Invocation) -> None:
        """The engine's per-invocation callback (called from worker threads)."""
        with self._lock:
            result = invocation.result if isinstance(invocation.result, dict) else {}
            event = invocation.event if isinstance(invocation.event, dict) else {}
            if isinstance(result.get("run"), dict) and "page_count" in result["run"]:
                self.total = int(result["run"]["page_count"])
            elif isinstance(result.get("results_key"), str):  # a distributed batch's record
                counts = result.get("counts")
                counts = counts if isinstance(counts, dict) else {}
                pages = result.get("pages")
                self.done += pages if isinstance(pages, int) else 0
                self.ok += int(counts.get("ok", 0))
                self.failed += int(counts.get("failed", 0))
                self.skipped += int(counts.get("skipped", 0))
            elif isinstance(result.get("results"), list):
                earlier = event.get("retry_count")
                earlier = earlier if isinstance(earlier, int) else 0
                for page in result["results"]:
                    self.done += 1
                    # attempts counts Step Functions' earlier tries too; the rest were the
                    # handler's own retries inside a multi-page batch.
                    attempts = page.get("attempts")
                    if isinstance(attempts, int) and page.get("outcome") != "skipped":
                        self.retried += max(0, attempts - earlier - 1)
                    if page.get("outcome") == "skipped":
                        self.skipped += 1
                    elif page.get("ok"):
                        self.ok += 1
                    else:
                        self.failed += 1
            elif invocation.error_type is not None and isinstance(event.get("pages"), list):
                pages = len(event["pages"])
                if invocation.will_retry:
                    self.retried += pages
                else:
                    self.done += pages
                    self.failed += pages
            else:
                return
            self._refresh()


def summary_table(summary: Mapping[str, Any], *, status: str, retried: int | None = None) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    style = "green" if status == "SUCCEEDED" else "red"
    table.add_row("status", f"[{style}]{status}[/]")
    table.add_row("run", str(summary.get("run_id")))
    table.add_row("mode", str(summary.get("mode")))
    table.add_row("pages", str(summary.get("total")))
    table.add_row(
        "ok",
        f"[green]{summary.get('ok')}[/]  (new {summary.get('new')}, changed "
        f"{summary.get('changed')}, unchanged {summary.get('unchanged')})",
    )
    ratio = float(summary.get("failure_ratio") or 0.0)
    table.add_row("failed", f"[red]{summary.get('failed')}[/]  ({ratio:.0%} of attempted pages)")
    table.add_row("skipped", f"[yellow]{summary.get('skipped')}[/]")
    if retried is not None:
        table.add_row(
            "retried",
            f"[magenta]{retried}[/] page attempts retried (by Step Functions, or inside a batch)",
        )
    table.add_row("duration", f"{float(summary.get('duration_s') or 0):.1f} s")
    return table


def results_table(results: Sequence[Mapping[str, Any]], *, base: str = "") -> Table:
    table = Table(title="pages", title_justify="left", header_style="bold")
    table.add_column("page", no_wrap=True)
    for column in ("outcome", "status", "tries"):
        table.add_column(column, no_wrap=True)
    table.add_column("title / error", overflow="fold")
    for row in results:
        url = str(row.get("url"))
        outcome = str(row.get("outcome"))
        style = OUTCOME_STYLE.get(outcome, "")
        detail = (
            row.get("title") if row.get("ok") else str(row.get("error")).replace(f"{url}: ", "")
        )
        if row.get("ok") and row.get("final_url") not in (None, row.get("url")):
            detail = f"{detail or ''} (-> {str(row['final_url']).removeprefix(base)})"
        elif row.get("ok") and not row.get("title"):
            detail = row.get("content_type")
        table.add_row(
            url.removeprefix(base) or "/",
            f"[{style}]{outcome}[/]",
            str(row.get("status") or "-"),
            str(row.get("attempts")),
            str(detail or ""),
        )
    return table


def where_table(run_id: str, run_dir: Path) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("run folder", str(run_dir))
    table.add_row("history", f"crawlmap history {run_id}")
    table.add_row("report", f"crawlmap report {run_id} -o report.html")
    table.add_row("cost", f"crawlmap cost {run_id}")
    return table
