"""A distributed run's child executions have histories of their own (moto_patches gap 10): the
engine saves each one in the run folder's children/, numbered as GetExecutionHistory numbers a
STANDARD child's, and history/report read every batch from them."""

from __future__ import annotations

import re
from pathlib import Path

from crawlmap.demo import DemoSite
from crawlmap.engine.adapter import Invocation
from crawlmap.engine.runner import EngineOptions, run_execution
from crawlmap.history.load import load_run
from crawlmap.report.render import render_report
from crawlmap.runfolder import runs_dir
from crawlmap.runfolder.schema import SPOOL
from tests.workflow.conftest import Crawl
from tests.workflow.templates import template_with
from tests.workflow.test_moto_gaps import HANDLERS, distributed_definition, items


def test_each_lane_child_keeps_its_own_history(crawl: Crawl, site: DemoSite) -> None:
    pages = [site.url(f"/articles/fan-out?child={n}") for n in range(12)]
    record = crawl({"pages": pages, "batch_size": 2, "distributed_threshold": 0})
    assert record.status == "SUCCEEDED", record.cause
    distributed = record.meta["distributed"]
    assert distributed["child_histories"] == "children"
    run = load_run(record.run_dir)
    assert len(run.children) == distributed["child_executions"] > 1
    for name, child in run.children:
        events = child.events
        assert [e.id for e in events] == list(range(1, len(events) + 1)), name
        assert events[0].type == "ExecutionStarted"
        assert events[-1].type == "ExecutionSucceeded"
        assert all(0 <= e.previous_id < e.id for e in events)
    batches = run.batch_iterations()
    assert len(batches) == 6  # 12 pages in batches of 2, every one found in a child history
    report = render_report(run)
    assert len(set(re.findall(r"#\d+\.\d+", report))) == 6  # each batch as "#lane.index"


def test_each_child_history_is_saved_as_the_child_ends_not_held_for_the_run(
    tmp_path: Path,
) -> None:
    """Memory flat in the run's size: a running child's events wait in a spool file, and each
    child's history is in children/ by the time the next child runs (one child at a time)."""
    definition = distributed_definition(tolerated=0)
    definition["States"]["Fan"]["MaxConcurrency"] = 1
    home = tmp_path / "home"
    run_dir = runs_dir(home) / "children-as-they-end"
    seen: list[tuple[int, int, int]] = []  # (item, histories saved, spool files) at each child

    def at_invocation(invocation: Invocation) -> None:
        if invocation.function == "Child":
            spooled = len(list((run_dir / SPOOL).glob("*.events.jsonl")))
            saved = len(list((run_dir / "children").glob("*.json")))
            seen.append((invocation.event["n"], saved, spooled))

    record = run_execution(
        {"items": items(5), "prefix": "results"},
        EngineOptions(
            home=home,
            template=template_with(definition, HANDLERS),
            time_scale=0.01,
            run_id=run_dir.name,
            on_invocation=at_invocation,
        ),
    )
    assert record.status == "SUCCEEDED", record.cause
    # the k-th child (in the order they ran) sees the k-1 before it saved, and its own spool
    assert [(saved, spooled) for _, saved, spooled in seen] == [(k, 1) for k in range(5)]
    assert sorted(n for n, _, _ in seen) == list(range(5))
    assert not (run_dir / SPOOL).exists()  # removed with the run's end
    run = load_run(record.run_dir)
    assert len(run.children) == 5
    for _, child in run.children:
        types = [e.type for e in child.events]
        assert types[0] == "ExecutionStarted"
        assert types[-1] == "ExecutionSucceeded"
        assert "TaskStateEntered" in types  # its own events, from the spool
