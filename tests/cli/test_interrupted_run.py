"""A run stopped mid-way (Ctrl-C or SIGTERM) leaves a run folder history, report and cost read.

`crawlmap run` runs as a subprocess against the recording site on 127.0.0.1, whose /slow/
pages take seconds; the signal is sent once a slow page's request has reached the site (so
the execution is surely in its Map), never after a fixed sleep.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.cli.conftest import RecordingSite, crawlmap_command, exit_code

SLOW_S = 2.0


def _wait_for_a_slow_request(site: RecordingSite, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120  # a guard against a hang, not a timing assumption
    while len(site.log().starts) < 5:  # 4 fast pages and at least one slow one have started
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run never reached the slow pages"
        time.sleep(0.05)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_run_is_saved_and_readable(
    tmp_path: Path,
    template_file: Path,
    signum: signal.Signals,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with RecordingSite(slow_delay=SLOW_S) as site:
        pages = [site.url(f"/fast/{i}") for i in range(4)] + [
            site.url(f"/slow/{i}") for i in range(6)
        ]
        process = subprocess.Popen(
            [*crawlmap_command(), "run", "--allow-private-networks", "--batch-size", "2",
             "--template", str(template_file), "--db", "store.db", "--output", "out.jsonl",
             *pages],
            cwd=tmp_path,
            env={**os.environ, "CRAWLMAP_HOME": str(tmp_path / "home")},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        try:
            _wait_for_a_slow_request(site, process)
            process.send_signal(signum)
            stdout, stderr = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()

    assert process.returncode == 130, stderr
    assert "Traceback" not in stdout + stderr
    assert "interrupted" in stderr
    (run_dir,) = (tmp_path / "home" / "runs").iterdir()
    meta = json.loads((run_dir / "meta.json").read_text())
    assert (meta["status"], meta["error"]) == ("ABORTED", "Interrupted")
    events = json.loads((run_dir / "history.json").read_text())["events"]
    assert events[0]["type"] == "ExecutionStarted"
    assert events[-1]["type"] == "ExecutionAborted"
    assert "Traceback" not in (run_dir / "logs.txt").read_text()

    # Every page has its line: crawled ones with their result, the others with the reason.
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [line["url"] for line in lines] == pages
    for line in lines:
        assert line["ok"] is True or "aborted" in line["error"], line

    # The inspect commands read it as `latest` (in-process: the run above was the subprocess).
    monkeypatch.setenv("CRAWLMAP_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert exit_code(["history", "latest", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["run_id"], doc["status"], doc["error"]) == (run_dir.name, "ABORTED", "Interrupted")
    assert any(state["name"] == "CrawlPages" for state in doc["states"])
    assert exit_code(["history", "latest"]) == 0
    assert "ABORTED" in capsys.readouterr().out
    assert exit_code(["cost", "latest", "--json"]) == 0
    assert 0 < json.loads(capsys.readouterr().out)["pages"] <= len(pages)
    assert exit_code(["report", "latest", "-o", "report.html"]) == 0
    assert "ABORTED" in (tmp_path / "report.html").read_text()
    assert "Traceback" not in capsys.readouterr().err
