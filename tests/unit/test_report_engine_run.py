"""history, report and cost on a run of the real local engine (the synthesized state machine
on moto's Step Functions interpreter, moto standing in for AWS; the real handlers) against a
site on 127.0.0.1: every page the run crawled is in the report with the outcome the run wrote,
and the cost's state transitions are the ones in the saved history."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawlmap.history import load_run
from crawlmap.inspect_cli import main
from crawlmap.report import write_report

pytestmark = pytest.mark.slow


class Site(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/robots.txt":
            body, status = b"User-agent: *\nDisallow: /private\n", 200
        elif self.path.startswith("/gone"):
            body, status = b"<h1>gone</h1>", 404
        else:
            body = f"<html><head><title>T {self.path} <&></title></head><body>x</body></html>"
            status, body = 200, body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def site() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize("threshold", ["1000", "1"], ids=["inline", "distributed"])
def test_report_and_cost_on_an_engine_run(site: str, tmp_path: Path, threshold: str) -> None:
    urls = [f"{site}/page-{i}" for i in range(8)] + [f"{site}/gone-1", f"{site}/private/x"]
    pages_file = tmp_path / "pages.txt"
    pages_file.write_text("\n".join(urls) + "\n")
    env = {
        **os.environ,
        "CRAWLMAP_HOME": str(tmp_path / "home"),
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "crawlmap.cli",
            "run",
            "--pages-file",
            str(pages_file),
            "--allow-private-networks",
            "--distributed-threshold",
            threshold,
            "--batch-size",
            "3",
            "--db",
            str(tmp_path / "store.db"),
            "--output",
            str(tmp_path / "out.jsonl"),
            "--json",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    summary = json.loads(done.stdout)
    run_dir = Path(summary["run_dir"])
    written = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    expected = {row["url"]: row["outcome"] for row in written}
    assert len(expected) == len(urls)

    html = write_report(run_dir, tmp_path / "report.html").read_text()
    for url, outcome in expected.items():
        assert f'data-outcome="{outcome}" data-url="{url}"' in html
    assert "<&>" not in html  # titles from the site are escaped

    run = load_run(run_dir)
    assert run.meta["mode"] == ("distributed" if threshold == "1" else "inline")
    raw = json.loads((run_dir / "history.json").read_text())["events"]
    by_id = {e["id"]: e for e in raw}
    transitions = sum(1 for e in raw if e["type"].endswith("StateEntered")) + sum(
        1
        for e in raw
        if e["type"] == "TaskScheduled" and by_id[e["previousEventId"]]["type"] == "TaskFailed"
    )
    out = tmp_path / "cost.json"
    with out.open("w") as handle:
        result = subprocess.run(
            [sys.executable, "-m", "crawlmap.cli", "cost", str(run_dir), "--json"],
            stdout=handle,
            text=True,
            env=env,
            check=False,
        )
    assert result.returncode == 0
    assert json.loads(out.read_text())["state_transitions"] == transitions
    assert main(["history", str(run_dir)]) == 0
