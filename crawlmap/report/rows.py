"""What the report shows of a run, as data: its pages, its batches and its counts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crawlmap.history import ExecutionHistory, MapIteration, RunFolder, cause_message

OUTCOMES = ("new", "changed", "unchanged", "failed", "skipped")


Batch = tuple[MapIteration, ExecutionHistory]  # a batch's iteration and the history holding it


def batches_of(history: ExecutionHistory, run: RunFolder | None) -> tuple[Batch, ...]:
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


def page_rows(run: RunFolder | None, history: ExecutionHistory) -> list[PageRow]:
    by_url: dict[str, MapIteration] = {}
    for it, _ in batches_of(history, run):
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


def summary_counts(history: ExecutionHistory, rows: Sequence[PageRow]) -> dict[str, Any]:
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


def meta_distributed(run: RunFolder | None) -> Mapping[str, Any] | None:
    distributed = run.meta.get("distributed") if run is not None else None
    return distributed if isinstance(distributed, Mapping) else None


def cause_text(cause: str | None) -> str:
    return cause_message(cause) or ""
