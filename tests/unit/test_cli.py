"""The CLI's input handling and output shaping (pure: no engine run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crawlmap.cli import build_parser
from crawlmap.cli.exits import UsageError
from crawlmap.cli.outcome import output_rows
from crawlmap.cli.run_input import canonical_pages, execution_input, read_pages_file
from crawlmap.engine.runner import RunRecord
from crawlmap.runfolder import RunFolderWriter


def parse(*argv: str) -> Any:
    return build_parser().parse_args(["run", *argv])


def test_pages_file_lines_and_json(tmp_path: Path) -> None:
    lines = tmp_path / "pages.txt"
    lines.write_text("# my pages\nhttps://a.example/\n\n  https://b.example/x  \n")
    assert read_pages_file(str(lines)) == ["https://a.example/", "https://b.example/x"]
    array = tmp_path / "pages.json"
    array.write_text('["https://a.example/", "https://c.example/"]')
    assert read_pages_file(str(array)) == ["https://a.example/", "https://c.example/"]


@pytest.mark.parametrize(
    ("content", "message"),
    [("[1, 2]", "URL strings"), ("[not json", "not a valid JSON array")],
)
def test_bad_pages_files_are_named(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "pages.json"
    path.write_text(content)
    with pytest.raises(UsageError, match=message):
        read_pages_file(str(path))
    with pytest.raises(UsageError, match="absent"):
        read_pages_file(str(tmp_path / "absent"))


def test_canonical_pages_dedupe_and_name_the_bad_url() -> None:
    pages = canonical_pages(
        ["https://A.example/x#y", "https://a.example/x", "https://a.example/?b=1&a=2"]
    )
    assert pages == ["https://a.example/x", "https://a.example/?a=2&b=1"]
    with pytest.raises(UsageError, match=r"URL 2 \('ftp://x/'\)"):
        canonical_pages(["https://a.example/", "ftp://x/"])


def test_execution_input_follows_the_contract(tmp_path: Path) -> None:
    payload, pages = execution_input(
        parse("https://a.example/", "https://a.example/#dup", "--batch-size", "5",
              "--distributed-threshold", "100")
    )  # fmt: skip
    assert payload == {
        "pages": ["https://a.example/", "https://a.example/#dup"],
        "batch_size": 5,
        "distributed_threshold": 100,
    }
    assert pages == ["https://a.example/"]
    payload, pages = execution_input(parse("--sitemap", "https://a.example/sitemap.xml"))
    assert payload == {"sitemap": "https://a.example/sitemap.xml"}
    assert pages == []
    with pytest.raises(UsageError, match="not both"):
        execution_input(parse("https://a.example/", "--sitemap", "https://a.example/s.xml"))
    with pytest.raises(UsageError, match="nothing to crawl"):
        execution_input(parse())


def test_numbers_out_of_range_are_rejected_by_the_parser() -> None:
    with pytest.raises(SystemExit) as exited:
        parse("--batch-size", "0", "https://a.example/")
    assert exited.value.code == 2


def record(folder: Path, results: list[dict[str, Any]], status: str = "SUCCEEDED") -> RunRecord:
    RunFolderWriter(folder).write_results(results)  # a record reads its results from there
    return RunRecord(
        run_id="r", run_dir=folder, status=status, execution_arn="arn", input={}, output=None,
        error="States.Runtime" if status != "SUCCEEDED" else None, cause="boom", summary=None,
        events=[], meta={},
    )  # fmt: skip


def test_output_has_every_input_page_once_even_when_the_run_stopped_early(tmp_path: Path) -> None:
    stored = {"url": "https://a.example/", "ok": True, "outcome": "new", "attempts": 1}
    run = record(tmp_path, [stored], "FAILED")
    rows = output_rows(run, ["https://a.example/", "https://b.example/"])
    assert [row["url"] for row in rows] == ["https://a.example/", "https://b.example/"]
    assert rows[0] == stored
    assert rows[1]["outcome"] == "failed"
    assert rows[1]["ok"] is False
    assert "boom" in rows[1]["error"]
