"""`crawlmap run` as a user runs it: a subprocess against a real site on 127.0.0.1.

The template is the session's synthesized one (--template), so no test pays for a synth.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from crawlmap.demo import DemoSite


def crawlmap(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    executable = Path(sys.executable).with_name("crawlmap")
    command = [str(executable)] if executable.exists() else [sys.executable, "-m", "crawlmap.cli"]
    return subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "CRAWLMAP_HOME": str(tmp_path / "home"), "COLUMNS": "120"},
        check=False,
    )


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_run_writes_one_line_per_page_and_one_json_object(
    tmp_path: Path, site: DemoSite, template_file: Path
) -> None:
    ok = site.url("/articles/fan-out")
    flaky = site.url("/flaky/cli-recovers?fail=1")
    missing = site.url("/status/404/cli")
    redirected = site.url("/old-home")
    out = tmp_path / "pages.jsonl"
    done = crawlmap(
        tmp_path, "run", ok, flaky, missing, redirected, ok + "#again", ok + "?utm_source=x",
        "--batch-size", "1", "--allow-private-networks", "--fast-retries",
        "--json", "--output", str(out), "--template", str(template_file),
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)  # exactly one JSON object on stdout
    assert summary["status"] == "SUCCEEDED"
    assert (summary["total"], summary["ok"], summary["failed"]) == (4, 3, 1)
    assert Path(tmp_path, summary["run_dir"], "history.json").is_file()
    lines = read_lines(out)
    assert [line["url"] for line in lines] == [ok, flaky, missing, redirected]
    by_url = {line["url"]: line for line in lines}
    assert by_url[flaky]["ok"] is True
    assert by_url[flaky]["attempts"] == 2
    assert by_url[missing]["outcome"] == "failed"
    assert by_url[missing]["status"] == 404
    assert by_url[missing]["error"] == "HTTP 404"
    assert by_url[redirected]["final_url"] == site.url("/")
    for line in lines:
        assert {"url", "final_url", "ok", "outcome", "status", "title", "attempts", "error"} <= set(
            line
        )

    listed = crawlmap(tmp_path, "runs", "--json")
    assert listed.returncode == 0
    assert [run["run_id"] for run in json.loads(listed.stdout)] == [summary["run_id"]]


def test_a_failed_run_exits_1_and_still_reports_every_page(
    tmp_path: Path, site: DemoSite, template_file: Path
) -> None:
    pages = [site.url("/status/404/cli-a"), site.url("/status/403/cli-b")]
    out = tmp_path / "pages.jsonl"
    done = crawlmap(
        tmp_path, "run", *pages, "--allow-private-networks", "--json", "--output", str(out),
        "--template", str(template_file),
    )  # fmt: skip

    assert done.returncode == 1
    summary = json.loads(done.stdout)
    assert summary["status"] == "FAILED"
    assert summary["error"] == "FailureRatioExceeded"
    assert [line["url"] for line in read_lines(out)] == pages


def test_bad_input_gets_one_clear_message_and_exit_2(tmp_path: Path, template_file: Path) -> None:
    bad_url = crawlmap(tmp_path, "run", "https://example.com/", "mailto:someone@example.com")
    assert bad_url.returncode == 2
    assert bad_url.stdout == ""
    assert "mailto:someone@example.com" in bad_url.stderr
    assert "Traceback" not in bad_url.stderr
    assert len(bad_url.stderr.strip().splitlines()) == 1

    unreadable = crawlmap(tmp_path, "run", "--pages-file", str(tmp_path / "absent.txt"))
    assert unreadable.returncode == 2
    assert "absent.txt" in unreadable.stderr
    assert "Traceback" not in unreadable.stderr

    bad_option = crawlmap(tmp_path, "run", "--max-concurrency", "500", "https://example.com/")
    assert bad_option.returncode == 2
    assert "--max-concurrency" in bad_option.stderr

    nothing = crawlmap(tmp_path, "run")
    assert nothing.returncode == 2
    assert "nothing to crawl" in nothing.stderr


def test_the_demo_runs_to_a_successful_end(tmp_path: Path, template_file: Path) -> None:
    done = crawlmap(tmp_path, "demo", "--fast-retries", "--template", str(template_file))

    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    for expected in ("/flaky/news", "robots.txt disallows", "HTTP 404", "SUCCEEDED",
                     "crawlmap history run-", "crawlmap report run-"):  # fmt: skip
        assert expected in done.stderr
    (run_dir,) = (tmp_path / "home" / "runs").iterdir()
    results = read_lines(run_dir / "results.jsonl")
    by_path = {line["url"].split("/", 3)[3]: line for line in results}
    assert len(results) == 19 == len(by_path)
    assert by_path["flaky/news"]["attempts"] == 2
    assert by_path["broken"]["outcome"] == "failed"
    assert by_path["private/admin"]["outcome"] == "skipped"
    old_home = by_path["old-home"]
    assert old_home["final_url"] == old_home["url"].removesuffix("old-home")
