"""Bad input to the CLI: one clear message naming what is wrong, a non-zero exit, no traceback."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.acceptance.conftest import Workspace, crawlmap_executable, new_workspace
from tests.acceptance.site import Site

OK_URL = "http://127.0.0.1:9/page"  # never fetched: every case below stops before crawling


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--pages-file", "missing.txt"], ["--pages-file", "missing.txt"]),
        (["--pages-file", "bad.json"], ["--pages-file", "JSON"]),
        (["--pages-file", "bad-url.txt"], ["ftp"]),
        (["ftp://example.com/file"], ["ftp"]),
        (["http://127.0.0.1:99999/"], ["port", "99999"]),
        (["http://example.com/" + "a" * 2100], ["2083"]),
        (["--max-concurrency", "41", OK_URL], ["--max-concurrency"]),
        (["--distributed-threshold", "-5", OK_URL], ["--distributed-threshold", "between 0 and"]),
        (["--output", "no/such/dir/out.jsonl", OK_URL], ["--output"]),
        (["--sitemap", "ftp://example.com/sitemap.xml"], ["--sitemap", "ftp"]),
        ([], ["nothing to crawl"]),
    ],
    ids=lambda value: " ".join(value)[:40] if isinstance(value, list) else None,
)
def test_bad_run_input(workspace: Workspace, args: list[str], names: list[str]) -> None:
    (workspace.path / "bad.json").write_text('["http://example.com/", ')
    (workspace.path / "bad-url.txt").write_text("http://example.com/\nftp://example.com/x\n")
    done = workspace.crawlmap("run", "--db", "store.db", *args)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    message = done.stderr.strip().splitlines()[-1]
    assert message.startswith("crawlmap run: error: ")
    for name in names:
        assert name.lower() in message.lower()
    assert not (workspace.home / "runs").exists()  # nothing ran


@pytest.mark.parametrize("command", ["history", "report", "cost"])
def test_unknown_run_id(workspace: Workspace, command: str) -> None:
    args = [command, "run-does-not-exist"] + (["-o", "r.html"] if command == "report" else [])
    done = workspace.crawlmap(*args)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "run-does-not-exist" in done.stderr


@pytest.fixture(scope="module")
def one_run(
    site: Site, template_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> Workspace:
    workspace = new_workspace(tmp_path_factory.mktemp("pipe"), template_cache)
    run = workspace.run(site.url("/page/pipe"))
    assert run.returncode == 0, run.stderr
    return workspace


@pytest.mark.parametrize("command", [["history", "latest"], ["cost", "latest"], ["runs"]])
def test_output_into_a_closed_pipe_is_quiet(one_run: Workspace, command: list[str]) -> None:
    """`crawlmap history latest | head -1`: stdout closes early; no error or traceback."""
    workspace = one_run
    process = subprocess.Popen(
        [*crawlmap_executable(), *command, *(["--db", "store.db"] if command == ["runs"] else [])],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=workspace.path,
        env={**os.environ, "CRAWLMAP_HOME": str(workspace.home)},
    )
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.close()  # the reader is gone before the first line is written
    stderr = process.stderr.read().decode()
    process.wait(timeout=60)
    assert "Traceback" not in stderr
    assert "Broken pipe" not in stderr


def test_more_pages_than_max_pages_is_refused_before_running(workspace: Workspace) -> None:
    pages = workspace.path / "many.txt"
    pages.write_text("".join(f"http://127.0.0.1:9/p{i}\n" for i in range(100_001)))
    done = workspace.crawlmap("run", "--db", "store.db", "--pages-file", str(pages))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "max_pages" in done.stderr
    assert "100000" in done.stderr
    assert not (workspace.home / "runs").exists()
