"""crawlmap's hooks into the local engine (crawlmap/crawl_hooks.py), without running the engine:
the stand-ins each function sees, what a run counts per invocation, and the results it saves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from crawlmap.crawl_hooks import CrawlHooks, CrawlRun
from crawlmap.engine.adapter import Invocation
from crawlmap.engine.hooks import NoHooks, RunContext
from crawlmap.engine.resources import LocalResources
from crawlmap.runfolder import RunFolderWriter
from lambdas.common.store import SQLiteStore

TEMPLATE: dict[str, Any] = {"Resources": {}}


def start(tmp_path: Path, hooks: CrawlHooks | None = None) -> CrawlRun:
    writer = RunFolderWriter.create("run-1", home=tmp_path)
    context = RunContext(
        run_id="run-1",
        home=tmp_path,
        writer=writer,
        resources=LocalResources(TEMPLATE),
        definition={},
    )
    return (hooks or CrawlHooks()).start(context)


def crawl_invocation(urls: list[str], retry_count: int) -> Invocation:
    event = {"pages": [{"url": u} for u in urls], "retry_count": retry_count}
    return Invocation("CrawlBatch", event, None, "TransientCrawlError", "x", 1.0)


def page(url: str, attempts: int = 1, outcome: str = "failed") -> dict[str, Any]:
    return {"url": url, "ok": outcome != "failed", "outcome": outcome, "attempts": attempts}


def test_the_table_is_sqlite_in_the_home_and_the_topic_a_file_in_the_run_folder(
    tmp_path: Path,
) -> None:
    run = start(tmp_path)
    variables = run.environment()
    assert variables["CRAWLMAP_SQLITE_PATH"] == str((tmp_path / "crawlmap.db").resolve())
    notify = Path(variables["CRAWLMAP_NOTIFY_FILE"])
    assert notify.parent == (tmp_path / "runs" / "run-1").resolve()
    assert variables["POWERTOOLS_METRICS_DISABLED"] == "true"
    elsewhere = start(tmp_path / "b", CrawlHooks(db_path=tmp_path / "store.db"))
    assert elsewhere.environment()["CRAWLMAP_SQLITE_PATH"] == str(tmp_path / "store.db")


def test_only_retried_pages_are_remembered_and_their_attempts_raised(tmp_path: Path) -> None:
    run = start(tmp_path)
    for i in range(50):  # first attempts: nothing to remember, however many pages
        run.on_invocation(crawl_invocation([f"https://a.example/{i}"], 0))
    assert run.invoked_again == {}
    retried = "https://a.example/7"
    run.on_invocation(crawl_invocation([retried], 1))
    run.on_invocation(crawl_invocation([retried], 2))
    assert run.invoked_again == {retried: 3}

    store = SQLiteStore(run.database)
    try:
        rows = [
            page(retried),
            page("https://a.example/8"),
            page("https://a.example/9", 0, "skipped"),
        ]
        store.save_results("run-1", rows, "2026-12-02T00:00:00Z")  # type: ignore[arg-type]
    finally:
        store.close()
    run.on_invocation(crawl_invocation(["https://a.example/9"], 1))
    saved = {r["url"]: r["attempts"] for r in run.results()}
    # three invocations carried the retried page; a skipped page was never fetched
    assert saved == {retried: 3, "https://a.example/8": 1, "https://a.example/9": 0}


def test_save_streams_the_results_and_keeps_the_last_notification(tmp_path: Path) -> None:
    run = start(tmp_path)
    writer = run.run.writer
    writer.notifications_path.write_text(
        json.dumps({"subject": "first"}) + "\n" + json.dumps({"subject": "last"}) + "\n"
    )
    summary = {"total": 0, "ok": 0}
    outcome = run.save(writer, summary, [])
    assert outcome.summary == summary
    assert outcome.meta["store_writes"] == 0
    assert json.loads((writer.path / "notification.json").read_text()) == {"subject": "last"}
    assert (writer.path / "results.jsonl").read_text() == ""


def test_the_summary_comes_from_store_and_notify_when_the_run_failed_after_it(
    tmp_path: Path,
) -> None:
    run = start(tmp_path)
    exited = {
        "type": "TaskStateExited",
        "stateExitedEventDetails": {"name": "StoreAndNotify", "output": '{"total": 3}'},
    }
    outcome = run.save(run.run.writer, None, [exited, {"type": "ExecutionFailed"}])
    assert outcome.summary == {"total": 3}


def test_no_hooks_run_a_template_as_it_is(tmp_path: Path) -> None:
    writer = RunFolderWriter.create("run-2", home=tmp_path)
    context = RunContext("run-2", tmp_path, writer, LocalResources(TEMPLATE), {})
    hooks = NoHooks().start(context)
    assert hooks.environment() == {}
    assert hooks.stage_input({"pages": ["x"] * 10_000}, {}) == {"pages": ["x"] * 10_000}
    assert hooks.save(writer, {"a": 1}, []).summary == {"a": 1}
    assert sorted(p.name for p in writer.path.iterdir()) == []
