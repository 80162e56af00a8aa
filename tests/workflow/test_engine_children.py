"""A distributed run's child executions have histories of their own (moto_gaps gap 10): the
engine saves each one in the run folder's children/, numbered as GetExecutionHistory numbers a
STANDARD child's, and history/report read every batch from them."""

from __future__ import annotations

import re

from crawlmap.demo import DemoSite
from crawlmap.history.load import load_run
from crawlmap.report.render import render_report
from tests.workflow.conftest import Crawl


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
