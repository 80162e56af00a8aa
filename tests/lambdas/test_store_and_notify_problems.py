"""What StoreAndNotify makes of the sitemap problems ListPages reported (run.source_problems).

SQLite on a tmp path; a recording notifier in place of SNS.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from lambdas.common.models import RunInfo, SourceProblems
from lambdas.common.store import SQLiteStore
from lambdas.store_and_notify.results import S3ResultReader
from lambdas.store_and_notify.storing import StoringContext, store_and_notify
from tests.lambdas.data_support import make_result

STARTED = "2026-03-01T10:00:00.000Z"
PROBLEMS = SourceProblems(
    count=12,
    first=[
        {"source": "https://a.test/sitemap.xml", "reason": "entry 2 ('javascript:x'): only http"},
        {"source": "https://a.test/dead.xml", "reason": "could not fetch it: HTTP 404"},
    ],
)


class RecordingNotifier:
    def __init__(self) -> None:
        self.published: list[tuple[str, str]] = []

    def publish(self, subject: str, message: str) -> None:
        self.published.append((subject, message))


def run_info(**extra: object) -> RunInfo:
    info = RunInfo(
        run_id="run-1",
        started_at=STARTED,
        mode="inline",
        page_count=1,
        batch_count=1,
        duplicates_dropped=0,
        batches_location=None,
        results_prefix=None,
        lane_count=1,
        lanes_location=None,
    )
    info.update(extra)  # type: ignore[typeddict-item]
    return info


def run(tmp_path: Path, info: RunInfo) -> tuple[dict[str, object], RecordingNotifier, SQLiteStore]:
    store = SQLiteStore(tmp_path / "s.db")
    notifier = RecordingNotifier()
    context = StoringContext(
        store=store,
        notifier=notifier,
        reader=S3ResultReader(),
        clock=lambda: datetime(2026, 3, 1, 10, 1, tzinfo=UTC),
    )
    event = {
        "run": info,
        "lanes": [[{"batch_id": 0, "results": [make_result("https://a.test/", "new")]}]],
    }
    outcome = store_and_notify(event, context)
    return dict(outcome.summary), notifier, store


def test_source_problems_reach_the_summary_the_store_and_the_notification(tmp_path: Path) -> None:
    summary, notifier, store = run(tmp_path, run_info(source_problems=PROBLEMS))

    assert summary["source_problems"] == PROBLEMS
    assert store.get_summary("run-1") == summary
    [(subject, message)] = notifier.published
    assert subject == "crawlmap run run-1: 1 ok, 0 failed, 0 changed, 1 new"
    assert "source problems: 12 entries or child sitemaps left out of the run" in message
    assert "  https://a.test/dead.xml  could not fetch it: HTTP 404" in message
    assert json.loads(message.splitlines()[-1])["source_problems"]["count"] == 12


def test_a_run_without_problems_says_nothing_about_them(tmp_path: Path) -> None:
    summary, notifier, _ = run(tmp_path, run_info())
    assert "source_problems" not in summary
    assert "source problems" not in notifier.published[0][1]
