"""`crawlmap run --per-host-concurrency / --per-host-delay / -c KEY=VALUE`, through main().

The runs crawl tests/cli/conftest.py's recording site on 127.0.0.1 with the session's
synthesized template (--template), so only the -c case synthesizes (it must: -c changes
the app).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from crawlmap.cli import main
from lambdas.common import tunables
from tests.cli.conftest import RecordingSite, exit_code


def run(template_file: Path, *args: str) -> int:
    return main(
        ["run", "--quiet", "--allow-private-networks", "--template", str(template_file), *args]
    )


def test_per_host_concurrency_holds_for_the_run(
    home: Path, template_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with RecordingSite(delay=0.1) as site:
        pages = [site.url(f"/page/{i}") for i in range(12)]
        # 3 batches of 4 pages: without the option, 4 lanes could crawl the host at once.
        assert run(template_file, "--per-host-concurrency", "1", "--batch-size", "4", "--json",
                   *pages) == 0  # fmt: skip
        summary = json.loads(capsys.readouterr().out)
        assert (summary["total"], summary["ok"]) == (12, 12)
        assert site.log().max_in_flight == 1


def test_per_host_delay_spaces_request_starts(
    home: Path, template_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with RecordingSite() as site:
        pages = [site.url(f"/page/{i}") for i in range(5)]
        assert run(template_file, "--per-host-delay", "0.4", "--json", *pages) == 0
        assert json.loads(capsys.readouterr().out)["ok"] == 5
        starts = sorted(site.log().starts)
        gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
        assert len(starts) >= 5
        assert sum(gaps) / len(gaps) >= 0.35  # a lower bound: the spacing is enforced


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--per-host-concurrency", "0"], "--per-host-concurrency"),
        (["--per-host-concurrency", "65"], "--per-host-concurrency"),
        (["--per-host-concurrency", "two"], "--per-host-concurrency"),
        (["--per-host-delay", "-1"], "--per-host-delay"),
        (["--per-host-delay", "61"], "--per-host-delay"),
        (["--per-host-delay", "nan"], "--per-host-delay"),
        (["-c", "batch_size=0"], "crawlmap.batch_size"),
        (["-c", "crawlmap.per_host_concurrency=65"], "crawlmap.per_host_concurrency"),
        (["-c", "functions.crawl_batch.memory_mb=x"], "crawlmap.functions.crawl_batch.memory_mb"),
        (["-c", "user_agent=bad\r\nagent"], "crawlmap.user_agent"),
        (["-c", 'selectors={"price": "h2[[["}'], "crawlmap.selectors.price"),
        (["-c", "no_such_key=1"], "crawlmap.no_such_key"),
        (["-c", "batch_size"], "KEY=VALUE"),
        (["-c", "max_concurrency=5", "--template", "t.json"], "--template"),
    ],
)
def test_bad_values_get_one_line_naming_the_key(
    home: Path, args: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert exit_code(["run", *args, "http://127.0.0.1:9/"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert named in lines[0]
    assert "Traceback" not in captured.err
    assert not (home / "runs").exists()  # nothing ran


def test_option_ranges_come_from_the_tunables_table() -> None:
    from crawlmap.cli import build_parser

    run_parser = build_parser()._subparsers._group_actions[0].choices["run"]  # type: ignore[union-attr]
    helps = {a.option_strings[0]: a.help for a in run_parser._actions if a.option_strings}
    for option, key in (("--per-host-concurrency", "per_host_concurrency"),
                        ("--per-host-delay", "per_host_delay")):  # fmt: skip
        assert tunables.tunable(key).allowed in str(helps[option])


def test_context_option_reaches_the_synthesized_app(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """-c max_pages=1 synthesizes the app with it: two pages are refused before crawling."""
    code = main(["run", "--quiet", "-c", "crawlmap.max_pages=1",
                 "http://127.0.0.1:9/a", "http://127.0.0.1:9/b"])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "more than max_pages allows (1;" in err
    assert not (home / "runs").exists()
