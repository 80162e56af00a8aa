"""Issue 5's check: a low --distributed-threshold takes the distributed Map (visible in the
history), every page appears exactly once, and the summary equals the inline path's on the
same pages; `crawlmap cost` counts the same state transitions as the history."""

from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.conftest import Done, Workspace
from tests.acceptance.site import Site

# What legitimately differs between two runs of the same pages.
PER_RUN_KEYS = {"run_id", "run_dir", "started_at", "finished_at", "duration_s", "mode"}
LINE_KEYS = ("url", "final_url", "ok", "outcome", "status", "title", "error")


def site_pages(site: Site, name: str, pages: int) -> list[str]:
    """`pages` unique pages: mostly fine, 2% 404, 1% 500, 1% disallowed, 1% redirected, and
    duplicates (exact and with a fragment)."""
    urls = []
    for i in range(pages):
        if i % 50 == 7:
            urls.append(site.url(f"/status/404/{name}-{i}"))
        elif i % 100 == 13:
            urls.append(site.url(f"/private/{name}-{i}"))
        elif i % 100 == 21:
            urls.append(site.url(f"/hop/2/{name}-{i}"))
        elif i % 100 == 37:
            urls.append(site.url(f"/status/500/{name}-{i}"))
        else:
            urls.append(site.url(f"/page/{name}-{i}"))
    return urls + urls[:10] + [url + "#again" for url in urls[10:20]]


def crawl(workspace: Workspace, pages_file: Path, db: str, *options: str) -> tuple[Done, Any]:
    out = f"{db}.jsonl"
    done = workspace.run(
        "--pages-file", str(pages_file), "--json", "--quiet", "--output", out, *options, db=db
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # --quiet: nothing on stderr (no Lambda-side warnings either)
    return done, workspace.lines(out)


def history_types(workspace: Workspace, run_id: str) -> collections.Counter[str]:
    history = json.loads((workspace.run_dir(run_id) / "history.json").read_text())
    return collections.Counter(event["type"] for event in history["events"])


def comparable(lines: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted(tuple(line[key] for key in LINE_KEYS) for line in lines)


def check_distributed_equals_other(
    workspace: Workspace, site: Site, name: str, pages: int, other: tuple[str, ...]
) -> tuple[dict[str, Any], dict[str, Any]]:
    pages_file = workspace.path / "pages.txt"
    urls = site_pages(site, name, pages)
    pages_file.write_text("\n".join(urls) + "\n")

    dist_done, dist_lines = crawl(
        workspace, pages_file, "distributed.db", "--distributed-threshold", "100"
    )
    other_done, other_lines = crawl(workspace, pages_file, "other.db", *other)
    distributed, baseline = dist_done.json(), other_done.json()

    assert distributed["mode"] == "distributed"
    for lines in (dist_lines, other_lines):  # every page exactly once
        counts = collections.Counter(line["url"] for line in lines)
        assert len(counts) == pages
        assert set(counts.values()) == {1}
    assert comparable(dist_lines) == comparable(other_lines)
    assert {k: v for k, v in distributed.items() if k not in PER_RUN_KEYS} == {
        k: v for k, v in baseline.items() if k not in PER_RUN_KEYS
    }
    assert distributed["total"] == pages
    assert distributed["failed"] == sum(1 for i in range(pages) if i % 50 == 7 or i % 100 == 37)
    assert distributed["skipped"] == sum(1 for i in range(pages) if i % 100 == 13)

    types = history_types(workspace, distributed["run_id"])
    assert types["MapRunStarted"] == 1  # the distributed Map ran, once
    history = workspace.crawlmap("history", distributed["run_id"])
    assert "CrawlPagesDistributed" in history.stdout
    if baseline["mode"] == "inline":
        inline_history = workspace.crawlmap("history", baseline["run_id"]).stdout
        assert "CrawlPages " in inline_history
        assert "CrawlPagesDistributed" not in inline_history
    return distributed, baseline


def test_distributed_summary_equals_the_inline_summary(
    workspace: Workspace, site: Site, unique: str
) -> None:
    # 200 pages: small enough for the inline Map's payload, above the threshold of 100.
    distributed, inline = check_distributed_equals_other(workspace, site, unique, 200, ())
    assert inline["mode"] == "inline"

    done = workspace.crawlmap("cost", distributed["run_id"], "--json")
    assert done.returncode == 0, done.stderr
    types = history_types(workspace, distributed["run_id"])
    entered = sum(n for kind, n in types.items() if kind.endswith("StateEntered"))
    retries = types["TaskScheduled"] - types["TaskStateEntered"]
    cost = done.json()
    assert cost["state_transitions"] == entered + retries
    assert cost["child_executions"] == 2  # 200 pages / distributed_batch_size 100
    assert cost["total_usd"] > 0


@pytest.mark.slow
def test_three_thousand_pages_through_the_distributed_map(
    workspace: Workspace, site: Site, unique: str
) -> None:
    # 3,000 pages never fit the inline Map's payload: both runs are distributed, one by the
    # threshold, one by the payload guard; they must still agree page for page.
    check_distributed_equals_other(
        workspace, site, unique, 3000, ("--distributed-threshold", "1000000")
    )
