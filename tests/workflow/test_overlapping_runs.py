"""Two overlapping runs of the real state machine on the local engine, sharing one store.

The first run (its own process: the engine runs one execution per process at a time) crawls
a page that the test holds open; while it waits there, a second run starts in this process.
It must be skipped (zero lanes, StoreAndNotify reached, a notification saying why), and the
first run's results must come out intact once the page is released. A real HTTP server on
127.0.0.1; the store is a real SQLite file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambdas.common.store import SQLiteStore
from tests.lambdas.crawl_support import ScenarioHandler, ScenarioServer, running_server
from tests.workflow.conftest import Crawl

HOLD_LIMIT_S = 120  # a safety net only: the test releases the page itself


@pytest.fixture
def held_site() -> Iterator[tuple[ScenarioServer, threading.Event]]:
    release = threading.Event()

    def held(handler: ScenarioHandler) -> None:
        release.wait(HOLD_LIMIT_S)
        handler.send_body(200, b"<html><title>held</title><body>held</body></html>")

    with running_server() as server:
        server.routes["/held"] = held
        server.html("/other", "<html><title>other</title><body>other</body></html>")
        try:
            yield server, release
        finally:
            release.set()


def wait_for(condition: object, process: subprocess.Popen[str]) -> None:
    """Until `condition()` holds (or the first run ended early: then its output says why)."""
    assert callable(condition)
    deadline = time.monotonic() + HOLD_LIMIT_S
    while not condition():
        if process.poll() is not None or time.monotonic() > deadline:
            output, errors = process.communicate()
            pytest.fail(f"the first run never reached the held page: {output}{errors}")
        time.sleep(0.05)


def test_a_run_started_while_another_runs_is_skipped_and_the_first_is_intact(
    crawl: Crawl,
    template_file: Path,
    tmp_path: Path,
    held_site: tuple[ScenarioServer, threading.Event],
) -> None:
    server, release = held_site
    home = tmp_path / "home"  # the `crawl` fixture's home: the same SQLite store
    first_pages = [server.url("/held"), server.url("/other")]
    runner = [sys.executable, "-m", "tests.workflow.overlap_runner", str(template_file), str(home)]
    first = subprocess.Popen(
        [*runner, *first_pages],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path.cwd())},
    )
    try:
        wait_for(lambda: server.hits("/held"), first)

        second = crawl({"pages": [server.url("/other")]})

        assert second.status == "SUCCEEDED"
        assert second.summary is not None
        reason = second.summary["skipped_reason"]
        assert reason.startswith("another run (run-")
        assert reason.endswith(") is still running")
        assert second.summary["total"] == 0
        assert second.results == []
        assert second.meta["functions"]["CrawlBatch"]["invocations"] == 0
        assert second.meta["functions"]["StoreAndNotify"]["invocations"] == 1
        notification = json.loads((second.run_dir / "notification.json").read_text())
        assert "skipped, another run is still running" in notification["subject"]
        assert f"the run was skipped: {reason}" in notification["message"]
    finally:
        release.set()
        output, errors = first.communicate(timeout=HOLD_LIMIT_S)
    assert first.returncode == 0, errors
    first_run = json.loads(output.strip().splitlines()[-1])
    assert first_run["status"] == "SUCCEEDED"
    assert reason == f"another run ({first_run['run_id']}) is still running"
    assert first_run["summary"]["ok"] == 2
    store = SQLiteStore(home / "crawlmap.db")
    try:
        stored = {r["url"]: r["outcome"] for r in store.run_results(first_run["run_id"])}
    finally:
        store.close()
    assert stored == dict.fromkeys(first_pages, "new")

    # the first run's end released the lease: the next run crawls
    third = crawl({"pages": [server.url("/other")]})
    assert third.summary is not None
    assert "skipped_reason" not in third.summary
    assert third.summary["unchanged"] + third.summary["changed"] == 1
