"""`crawlmap run` on a site that succeeds, fails, recovers and redirects, given duplicates.

Issue 3's check: the --output lines and the exit code match what the site did, every page
exactly once; --json prints exactly one object; history, cost and report read the same run.
"""

from __future__ import annotations

import collections
import json
import re
import subprocess
import uuid
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.conftest import Done, Workspace, new_workspace
from tests.acceptance.site import Site

SUMMARY_COUNTS = ("total", "ok", "failed", "skipped", "new", "changed", "unchanged")


@dataclass(frozen=True)
class MixedRun:
    """One `crawlmap run --json --output` over the mixed page set, and what to expect."""

    workspace: Workspace
    done: Done
    lines: list[dict[str, Any]]
    pages: dict[str, str]  # role -> canonical URL
    paths: dict[str, str]  # role -> path on the site
    hits: dict[str, int]  # path -> requests the site received (after the run)
    batch_size: str | None


def mixed_pages(site: Site, name: str) -> tuple[dict[str, str], list[str]]:
    """role -> path, and the command-line URLs (with exact and canonical duplicates)."""
    paths = {
        "ok": f"/page/a-{name}",
        "ok2": f"/page/b-{name}",
        "missing": f"/status/404/{name}",
        "broken": f"/status/500/{name}",
        "flaky": f"/flaky/{name}",
        "redirected": f"/hop/3/{name}",
    }
    urls = [site.url(p) for p in paths.values()]
    upper_scheme = "HTTP://" + site.url(paths["ok"]).removeprefix("http://")
    duplicates = [
        site.url(paths["ok"]),  # exact
        site.url(paths["ok"]) + "#section",  # fragment
        site.url(paths["ok2"]) + "?utm_source=news&utm_medium=mail",  # tracking parameters
        upper_scheme,  # scheme case
        site.url(paths["missing"]),
    ]
    return paths, urls[:3] + duplicates[:2] + urls[3:] + duplicates[2:]


@pytest.fixture(scope="module", params=[None, "1"], ids=["default-batch", "batch-size-1"])
def mixed(
    request: pytest.FixtureRequest,
    site: Site,
    template_cache: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> MixedRun:
    workspace = new_workspace(tmp_path_factory.mktemp("mixed"), template_cache)
    name = uuid.uuid4().hex[:10]
    paths, urls = mixed_pages(site, name)
    batch = ["--batch-size", request.param] if request.param else []
    done = workspace.run(*urls, *batch, "--json", "--output", "pages.jsonl")
    return MixedRun(
        workspace=workspace,
        done=done,
        lines=workspace.lines("pages.jsonl") if (workspace.path / "pages.jsonl").exists() else [],
        pages={role: site.url(path) for role, path in paths.items()},
        paths=paths,
        hits={path: site.hits[path] for path in paths.values()},
        batch_size=request.param,
    )


def by_url(lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {line["url"]: line for line in lines}


def test_exit_code_zero_when_the_run_succeeds(mixed: MixedRun) -> None:
    # 2 of 6 pages fail: under the default failure_ratio of 0.5, so the run succeeds.
    assert mixed.done.returncode == 0, mixed.done.stderr
    assert "Traceback" not in mixed.done.stderr


def test_every_page_exactly_once(mixed: MixedRun) -> None:
    urls = [line["url"] for line in mixed.lines]
    assert collections.Counter(urls) == collections.Counter(mixed.pages.values())
    for line in mixed.lines:
        for key in ("url", "final_url", "ok", "outcome", "status", "title", "attempts", "error"):
            assert key in line, (key, line)


def test_duplicates_are_fetched_once(mixed: MixedRun) -> None:
    assert mixed.hits[mixed.paths["ok"]] == 1
    assert mixed.hits[mixed.paths["ok2"]] == 1


def test_pages_that_succeed(mixed: MixedRun) -> None:
    lines = by_url(mixed.lines)
    for role, title in (("ok", "Page a-"), ("ok2", "Page b-")):
        line = lines[mixed.pages[role]]
        assert line["ok"] is True
        assert line["outcome"] == "new"
        assert line["status"] == 200
        assert line["final_url"] == mixed.pages[role]
        assert line["title"].startswith(title)
        assert line["attempts"] == 1
        assert line["error"] is None


def test_permanent_404_is_a_failure_record_not_retried(mixed: MixedRun) -> None:
    line = by_url(mixed.lines)[mixed.pages["missing"]]
    assert (line["ok"], line["outcome"], line["status"]) == (False, "failed", 404)
    assert "404" in line["error"]
    assert line["attempts"] == 1 == mixed.hits[mixed.paths["missing"]]


def test_permanent_500_is_retried_then_recorded_with_its_status(mixed: MixedRun) -> None:
    line = by_url(mixed.lines)[mixed.pages["broken"]]
    assert (line["ok"], line["outcome"]) == (False, "failed")
    assert line["status"] == 500, line  # what the site answered, every time
    assert "500" in line["error"]
    assert line["attempts"] >= 3
    assert line["attempts"] == mixed.hits[mixed.paths["broken"]]  # each attempt a request


def test_503_once_then_200_recovers(mixed: MixedRun) -> None:
    line = by_url(mixed.lines)[mixed.pages["flaky"]]
    assert (line["ok"], line["outcome"], line["status"]) == (True, "new", 200)
    assert line["attempts"] == 2 == mixed.hits[mixed.paths["flaky"]]
    assert line["error"] is None
    assert line["title"].startswith("Flaky ")


def test_redirect_chain_reports_the_final_url(mixed: MixedRun, site: Site) -> None:
    line = by_url(mixed.lines)[mixed.pages["redirected"]]
    name = mixed.paths["redirected"].rsplit("/", 1)[1]
    assert line["ok"] is True
    assert line["status"] == 200
    assert line["final_url"] == site.url(f"/page/{name}")
    assert line["title"] == f"Page {name}"


def test_json_is_one_object_with_run_id_and_counts(mixed: MixedRun) -> None:
    summary = mixed.done.json()  # the whole of stdout is one JSON object
    assert isinstance(summary, dict)
    assert summary["run_id"].startswith("run-")
    assert summary["status"] == "SUCCEEDED"
    outcomes = collections.Counter(line["outcome"] for line in mixed.lines)
    expected = {
        "total": len(mixed.lines),
        "ok": sum(1 for line in mixed.lines if line["ok"]),
        "failed": outcomes["failed"],
        "skipped": outcomes["skipped"],
        "new": outcomes["new"],
        "changed": outcomes["changed"],
        "unchanged": outcomes["unchanged"],
    }
    assert {key: summary[key] for key in SUMMARY_COUNTS} == expected
    assert expected["total"] == 6
    assert (expected["ok"], expected["failed"]) == (4, 2)


def test_progress_counts_every_page_and_every_retry(mixed: MixedRun) -> None:
    """The progress bar (stderr) ends at all pages done, with each retried attempt counted,
    whether Step Functions retried it (one-page batches) or the handler did (bigger ones)."""
    found = re.findall(
        r"(\d+)/(\d+) (\d+) ok (\d+) failed (\d+) skipped (\d+) retried", mixed.done.stderr
    )
    assert found, mixed.done.stderr[-2000:]
    done, total, ok, failed, skipped, retried = map(int, found[-1])
    assert (done, total, ok, failed, skipped) == (6, 6, 4, 2, 0)
    assert retried == sum(line["attempts"] - 1 for line in mixed.lines)


def test_run_folder_matches_the_output(mixed: MixedRun) -> None:
    run_dir = mixed.workspace.run_dir(mixed.done.json()["run_id"])
    saved = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    assert sorted(r["url"] for r in saved) == sorted(line["url"] for line in mixed.lines)
    assert json.loads((run_dir / "meta.json").read_text())["status"] == "SUCCEEDED"


# ---------------------------------------------------------------- history, runs, cost


def history_events(mixed: MixedRun) -> list[dict[str, Any]]:
    run_dir = mixed.workspace.run_dir(mixed.done.json()["run_id"])
    events: list[dict[str, Any]] = json.loads((run_dir / "history.json").read_text())["events"]
    return events


@pytest.mark.parametrize("mixed", ["1"], ids=["batch-size-1"], indirect=True)
def test_history_shows_the_states_retries_and_pages(mixed: MixedRun) -> None:
    run_id = mixed.done.json()["run_id"]
    done = mixed.workspace.crawlmap("history", run_id)
    assert done.returncode == 0, done.stderr
    for state in ("ListPages", "ChooseMode", "CrawlPages", "StoreAndNotify", "Succeeded"):
        assert state in done.stdout
    assert "Pages (results.jsonl): 6 total, ok 4 (new 4), failed 2" in done.stdout
    # one page per iteration: Step Functions' retries and the caught 500 show
    assert "retried" in done.stdout
    assert "caught" in done.stdout
    latest = mixed.workspace.crawlmap("history", "latest")
    assert latest.returncode == 0
    assert run_id in latest.stdout


@pytest.mark.parametrize("mixed", ["1"], ids=["batch-size-1"], indirect=True)
def test_runs_lists_the_run(mixed: MixedRun) -> None:
    run_id = mixed.done.json()["run_id"]
    done = mixed.workspace.crawlmap("runs", "--db", "store.db", "--json")
    assert done.returncode == 0, done.stderr
    (row,) = [r for r in done.json() if r["run_id"] == run_id]
    assert row["status"] == "SUCCEEDED"
    assert (row["total"], row["ok"], row["failed"]) == (6, 4, 2)
    text = mixed.workspace.crawlmap("runs", "--db", "store.db")
    assert run_id in text.stdout


@pytest.mark.parametrize("mixed", ["1"], ids=["batch-size-1"], indirect=True)
def test_cost_state_transitions_match_the_history(mixed: MixedRun) -> None:
    events = history_events(mixed)
    types = collections.Counter(event["type"] for event in events)
    entered = sum(n for kind, n in types.items() if kind.endswith("StateEntered"))
    # Each Task entry schedules its work once; every further TaskScheduled is a retry,
    # and AWS bills a retry as a state transition.
    retries = types["TaskScheduled"] - types["TaskStateEntered"]
    run_id = mixed.done.json()["run_id"]
    done = mixed.workspace.crawlmap("cost", run_id, "--json")
    assert done.returncode == 0, done.stderr
    cost = done.json()
    assert cost["state_transitions"] == entered + retries
    assert cost["total_usd"] > 0
    text = mixed.workspace.crawlmap("cost", run_id)
    assert text.returncode == 0
    assert f"State transitions in the history: {entered + retries}" in text.stdout


# ---------------------------------------------------------------- exit codes


def test_all_pages_failing_ends_in_run_failed(
    workspace: Workspace, site: Site, unique: str
) -> None:
    urls = [site.url(f"/status/404/{unique}"), site.url(f"/status/410/{unique}")]
    done = workspace.run(*urls, "--json", "--output", "pages.jsonl")
    assert done.returncode != 0
    summary = done.json()
    assert summary["status"] == "FAILED"
    assert summary["error"] == "FailureRatioExceeded"
    assert (summary["total"], summary["failed"]) == (2, 2)
    assert sorted(line["url"] for line in workspace.lines("pages.jsonl")) == sorted(urls)
    history = workspace.crawlmap("history", summary["run_id"])
    assert "RunFailed" in history.stdout


def test_human_output_of_a_failed_run_says_why(
    workspace: Workspace, site: Site, unique: str
) -> None:
    done = workspace.run(site.url(f"/status/404/{unique}"))
    assert done.returncode != 0
    assert "FAILED" in done.stderr
    assert "FailureRatioExceeded: 1 of 1 pages failed" in done.stderr
    assert "failure ratio 1.0 is over the limit 0.5" in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr


# ---------------------------------------------------------------- the report in Chromium

CHROMIUM = Path("/usr/bin/chromium")


class PageRows(HTMLParser):
    """The pages table of a rendered report: data-url -> (data-outcome, badge text)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, tuple[str, str]] = {}
        self._url: str | None = None
        self._in_badge = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        url = found.get("data-url")
        if tag == "tr" and url:
            self._url = url
            self.rows[url] = (found.get("data-outcome") or "", "")
        elif tag == "span" and self._url and "badge" in (found.get("class") or ""):
            self._in_badge = True

    def handle_data(self, data: str) -> None:
        if self._in_badge and self._url:
            self.rows[self._url] = (self.rows[self._url][0], data.strip())
            self._in_badge = False

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._url = None


CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1400,2400",
)  # fmt: skip


def chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp / "chromium-profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run(
        [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (make browser)")
@pytest.mark.parametrize("mixed", ["1"], ids=["batch-size-1"], indirect=True)
def test_report_opens_in_chromium_with_every_page_and_its_outcome(mixed: MixedRun) -> None:
    workspace = mixed.workspace
    run_id = mixed.done.json()["run_id"]
    done = workspace.crawlmap("report", run_id, "-o", "report.html")
    assert done.returncode == 0, done.stderr
    report = (workspace.path / "report.html").resolve()

    dom = chromium(workspace.path, "--dump-dom", report.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    # The whole state graph, as the console draws it: states that did not run included.
    assert "states from the definition" in dom.stdout
    for state in ("CrawlPagesDistributed", "InvalidInput", "RunFailed"):
        assert f">{state}<" in dom.stdout, state
    rows = PageRows()
    rows.feed(dom.stdout)
    expected = {line["url"]: line["outcome"] for line in mixed.lines}
    assert {url: outcome for url, (outcome, _) in rows.rows.items()} == expected
    assert {url: badge for url, (_, badge) in rows.rows.items()} == expected

    shot = workspace.path / "report.png"
    taken = chromium(workspace.path, f"--screenshot={shot}", report.as_uri())
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
