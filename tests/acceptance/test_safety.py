"""Issue 4's checks with our own site: the SSRF opt-in, robots.txt, oversized bodies and a
gzip bomb in bounded memory, and a second run that finds pages unchanged (or changed)."""

from __future__ import annotations

import collections
import re
from pathlib import Path

import pytest

from tests.acceptance.conftest import Workspace
from tests.acceptance.site import SITEMAP_PATHS, Site

TIME = Path("/usr/bin/time")
MIB = 1024 * 1024


def test_loopback_is_refused_without_the_opt_in(
    workspace: Workspace, site: Site, unique: str
) -> None:
    port = site.port
    urls = [
        site.url(f"/page/a-{unique}"),
        f"http://localhost:{port}/page/b-{unique}",
        f"http://[::1]:{port}/page/c-{unique}",
        # the same page twice: the default port is dropped from the canonical URL
        f"http://127.0.0.1:80/page/d-{unique}",
        f"http://127.0.0.1/page/d-{unique}",
    ]
    done = workspace.crawlmap("run", "--db", "store.db", "--output", "pages.jsonl", *urls)

    assert done.returncode != 0  # every page refused: the run fails
    assert "Traceback" not in done.stderr
    assert "--allow-private-networks" in done.stderr  # the hint says how to opt in
    lines = workspace.lines("pages.jsonl")
    assert len(lines) == 4
    assert len({line["url"] for line in lines}) == 4
    for line in lines:
        assert (line["ok"], line["outcome"]) == (False, "failed")
        assert line["error"].startswith("refused: ")
        assert "loopback" in line["error"]
    assert all(site.hits[f"/page/{p}-{unique}"] == 0 for p in "abcd")  # never contacted


def test_loopback_is_crawled_with_the_opt_in(workspace: Workspace, site: Site, unique: str) -> None:
    done = workspace.run(site.url(f"/page/{unique}"), "--output", "pages.jsonl")
    assert done.returncode == 0, done.stderr
    (line,) = workspace.lines("pages.jsonl")
    assert (line["ok"], line["status"]) == (True, 200)
    assert site.hits[f"/page/{unique}"] == 1


def test_robots_txt_disallow_is_skipped_not_failed(
    workspace: Workspace, site: Site, unique: str
) -> None:
    private, public = site.url(f"/private/{unique}"), site.url(f"/page/{unique}")
    done = workspace.run(private, public, "--output", "pages.jsonl", "--json")
    assert done.returncode == 0, done.stderr
    lines = {line["url"]: line for line in workspace.lines("pages.jsonl")}
    assert lines[private]["outcome"] == "skipped"
    assert lines[private]["ok"] is False
    assert "robots.txt" in lines[private]["error"]
    assert lines[public]["outcome"] == "new"
    assert site.hits[f"/private/{unique}"] == 0
    summary = done.json()
    assert (summary["skipped"], summary["failed"], summary["ok"]) == (1, 0, 1)


def max_rss_bytes(stderr: str) -> int:
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    assert found, stderr[-2000:]
    return int(found.group(1)) * 1024


@pytest.mark.skipif(not TIME.exists(), reason="needs GNU time (/usr/bin/time) to measure RSS")
def test_oversized_and_bomb_responses_fail_cleanly_in_bounded_memory(
    workspace: Workspace, site: Site, unique: str
) -> None:
    normal = [site.url(f"/page/a-{unique}"), site.url(f"/page/b-{unique}")]
    wrapper = (str(TIME), "-v")
    baseline = workspace.run(*normal, "--quiet", db="baseline.db", wrapper=wrapper)
    assert baseline.returncode == 0, baseline.stderr

    large = {
        site.url(f"/huge-length/{unique}"): "Content-Length",
        site.url(f"/huge-stream/{unique}"): "10 MiB",
        site.url(f"/bomb/{unique}"): "10 MiB",
    }
    done = workspace.run(
        *normal, *large, "--quiet", "--output", "pages.jsonl", db="large.db", wrapper=wrapper
    )
    assert "Traceback" not in done.stderr
    lines = {line["url"]: line for line in workspace.lines("pages.jsonl")}
    assert len(lines) == 5
    for url, reason in large.items():
        assert (lines[url]["ok"], lines[url]["outcome"]) == (False, "failed")
        assert reason in lines[url]["error"]
    assert all(lines[url]["ok"] for url in normal)
    growth = max_rss_bytes(done.stderr) - max_rss_bytes(baseline.stderr)
    assert growth < 32 * MIB, f"RSS grew by {growth / MIB:.1f} MiB"


def test_second_run_finds_unchanged_and_changed_pages(
    workspace: Workspace, site: Site, unique: str
) -> None:
    validated = site.url(f"/page/{unique}")  # ETag + Last-Modified: 304 on the second run
    edited = site.url(f"/plain/e-{unique}")  # no validators, text changes
    same = site.url(f"/plain/s-{unique}")  # no validators, same text
    first = workspace.run(validated, edited, same, "--json", "--output", "first.jsonl")
    assert first.returncode == 0, first.stderr
    assert {line["outcome"] for line in workspace.lines("first.jsonl")} == {"new"}

    site.set_version(f"e-{unique}", "a second version with other words")
    second = workspace.run(validated, edited, same, "--json", "--output", "second.jsonl")
    assert second.returncode == 0, second.stderr
    lines = {line["url"]: line for line in workspace.lines("second.jsonl")}
    assert lines[validated]["outcome"] == "unchanged"
    assert lines[validated]["status"] == 304
    assert lines[validated]["ok"] is True
    assert lines[edited]["outcome"] == "changed"
    assert lines[same]["outcome"] == "unchanged"
    summary = second.json()
    assert (summary["new"], summary["changed"], summary["unchanged"]) == (0, 1, 2)
    outcomes = collections.Counter(line["outcome"] for line in lines.values())
    assert outcomes == {"unchanged": 2, "changed": 1}


def test_a_site_that_is_down_fails_the_run(workspace: Workspace) -> None:
    """Nothing listens on 127.0.0.1:1: the pages cannot be crawled, so they are failures
    (RFC 9309's 'unreachable means disallow' is about a server that answers with errors)."""
    urls = ["http://127.0.0.1:1/a", "http://127.0.0.1:1/b"]
    done = workspace.run(*urls, "--json", "--quiet", "--output", "pages.jsonl")
    lines = workspace.lines("pages.jsonl")
    assert {line["outcome"] for line in lines} == {"failed"}
    assert done.returncode != 0


def test_sitemap_index_with_a_gzipped_sitemap(workspace: Workspace, site: Site) -> None:
    done = workspace.run("--sitemap", site.url("/sitemap-index.xml"), "--output", "pages.jsonl")
    assert done.returncode == 0, done.stderr
    lines = {line["url"]: line for line in workspace.lines("pages.jsonl")}
    assert set(lines) == {site.url(path) for path in SITEMAP_PATHS}
    outcomes = {path: lines[site.url(path)]["outcome"] for path in SITEMAP_PATHS}
    assert outcomes == {
        "/page/sitemap-1": "new",
        "/page/sitemap-2": "new",
        "/status/404/sitemap-3": "failed",
        "/private/sitemap-4": "skipped",
    }


def test_a_loopback_sitemap_is_refused_without_the_opt_in(workspace: Workspace, site: Site) -> None:
    done = workspace.crawlmap("run", "--db", "store.db", "--sitemap", site.url("/sitemap.xml"))
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "InvalidInput" in done.stderr
    assert "loopback" in done.stderr
    assert "--allow-private-networks" in done.stderr


def test_robots_txt_is_fetched_once_per_run(workspace: Workspace, site: Site, unique: str) -> None:
    before = site.hits["/robots.txt"]
    urls = [site.url(f"/page/{unique}-{i}") for i in range(5)]
    done = workspace.run(*urls, "--batch-size", "1", "--quiet")
    assert done.returncode == 0, done.stderr
    assert site.hits["/robots.txt"] - before == 1
