"""The run summary, counted one result at a time, and the notification made from it."""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lambdas.common.models import FailureSample, PageResult, RunInfo, RunSummary
from lambdas.common.notifier import MAX_SUBJECT_CHARS
from lambdas.common.store import parse_instant

MAX_FAILURE_SAMPLES = 10


def failure_ratio(failed: int, total: int, skipped: int) -> float:
    """failed / (total - skipped): pages robots.txt told us to skip are not failures."""
    attempted = total - skipped
    return failed / attempted if attempted > 0 else 0.0


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class SummaryCounter:
    """Counts results as they stream past; memory does not grow with the run."""

    total: int = 0
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    first_failures: list[FailureSample] = field(default_factory=list)

    def add(self, result: PageResult) -> None:
        self.total += 1
        self.ok += result["ok"] is True
        outcome = result["outcome"]
        if outcome == "failed":
            self.failed += 1
            self._sample_failure(FailureSample(url=result["url"], error=result["error"]))
        elif outcome == "skipped":
            self.skipped += 1
        elif outcome == "new":
            self.new += 1
        elif outcome == "changed":
            self.changed += 1
        elif outcome == "unchanged":
            self.unchanged += 1

    def _sample_failure(self, sample: FailureSample) -> None:
        # The failures with the smallest URLs, not the first to arrive: ResultWriter files
        # come in no set order, and inline and distributed runs must report the same sample.
        samples = self.first_failures
        if len(samples) == MAX_FAILURE_SAMPLES and sample["url"] >= samples[-1]["url"]:
            return
        bisect.insort(samples, sample, key=lambda s: (s["url"], s["error"] or ""))
        del samples[MAX_FAILURE_SAMPLES:]

    def summary(self, run: RunInfo, finished_at: datetime) -> RunSummary:
        try:
            duration = (finished_at - parse_instant(run["started_at"])).total_seconds()
        except ValueError:
            duration = 0.0
        summary = RunSummary(
            run_id=run["run_id"],
            mode=run["mode"],
            total=self.total,
            ok=self.ok,
            failed=self.failed,
            skipped=self.skipped,
            new=self.new,
            changed=self.changed,
            unchanged=self.unchanged,
            failure_ratio=failure_ratio(self.failed, self.total, self.skipped),
            started_at=run["started_at"],
            finished_at=iso_utc(finished_at),
            duration_s=round(max(duration, 0.0), 3),
            first_failures=list(self.first_failures),
        )
        problems = run.get("source_problems")
        if isinstance(problems, dict) and problems.get("count"):
            summary["source_problems"] = problems
        if isinstance(run.get("skipped_reason"), str):
            summary["skipped_reason"] = run["skipped_reason"]
        return summary


def subject_line(summary: RunSummary) -> str:
    """e.g. 'crawlmap run abc: 120 ok, 3 failed, 10 changed, 2 new' (SNS: under 100 chars)."""
    counts = (
        f"{summary['ok']} ok, {summary['failed']} failed, "
        f"{summary['changed']} changed, {summary['new']} new"
    )
    skipped = summary.get("skipped_reason")
    if skipped is not None:
        overlap = skipped.startswith("another run")
        counts = "skipped, another run is still running" if overlap else "skipped"
    room = MAX_SUBJECT_CHARS - len("crawlmap run : ") - len(counts)
    run_id = summary["run_id"]
    if len(run_id) > room:
        run_id = run_id[: max(room - 3, 1)] + "..."
    return f"crawlmap run {run_id}: {counts}"


def message_text(summary: RunSummary) -> str:
    """A readable report for people, then the summary as JSON for programs."""
    lines = [
        f"crawlmap run {summary['run_id']} ({summary['mode']})",
        f"started {summary['started_at']}, finished {summary['finished_at']}"
        f" ({summary['duration_s']:.1f} s)",
        "",
        f"pages:     {summary['total']}",
        f"ok:        {summary['ok']}  (new {summary['new']}, changed {summary['changed']},"
        f" unchanged {summary['unchanged']})",
        f"failed:    {summary['failed']}  ({summary['failure_ratio']:.1%} of attempted pages)",
        f"skipped:   {summary['skipped']}  (robots.txt)",
    ]
    if "skipped_reason" in summary:
        lines += ["", f"the run was skipped: {summary['skipped_reason']}"]
    problems = summary.get("source_problems")
    if problems:
        noun = "entry or child sitemap" if problems["count"] == 1 else "entries or child sitemaps"
        lines += ["", f"source problems: {problems['count']} {noun} left out of the run"]
        lines += [f"  {p['source']}  {p['reason']}" for p in problems["first"]]
    if summary["first_failures"]:
        lines += ["", "first failures:"]
        lines += [f"  {f['url']}  {f['error'] or ''}".rstrip() for f in summary["first_failures"]]
    lines += ["", json.dumps(summary, sort_keys=True)]
    return "\n".join(lines)
