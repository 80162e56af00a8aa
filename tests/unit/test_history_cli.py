"""`crawlmap history` (and RUN resolution shared by report and cost).

Histories come from moto 5.2.5's Step Functions interpreter standing in for AWS: the saved
fixtures, and for `--arn` a live execution started in moto during the test (Lambda calls are
intercepted in-process, as the local engine does), fetched back through boto3's paginator.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import boto3
import pytest

from crawlmap.engine import moto_patches
from crawlmap.history import load_run
from crawlmap.inspect_cli import fetch_execution, main
from tests.fixtures.histories.make_fixtures import (
    SITE,
    FakeCrawl,
    definition,
    execute,
    moto_stepfunctions,
    run_fixture,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "histories"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A CRAWLMAP_HOME with two saved runs."""
    runs = tmp_path / "home" / "runs"
    runs.mkdir(parents=True)
    shutil.copytree(FIXTURES / "inline-mixed", runs / "run-20261126T100000Z-aaaaaa")
    shutil.copytree(FIXTURES / "inline-caught", runs / "run-20261126T110000Z-bbbbbb")
    later = time.time() + 10
    os.utime(runs / "run-20261126T110000Z-bbbbbb", (later, later))
    monkeypatch.setenv("CRAWLMAP_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_history_by_run_id_prints_states_and_iterations(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["history", "run-20261126T100000Z-aaaaaa"]) == 0
    out = capsys.readouterr().out
    for state in ("ListPages", "ChooseMode", "CrawlPages", "StoreAndNotify", "Succeeded"):
        assert state in out
    assert "6 iterations" in out
    assert "TransientCrawlError" in out  # the retried 503
    assert "Pages (results.jsonl): 6 total, ok 4" in out


def test_run_id_prefix_and_latest(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "run-20261126T11", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["run_id"] == "inline-caught"
    assert main(["history", "latest", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["run_id"] == "inline-caught"
    assert main(["history", "run-2026", "--json"]) == 2
    assert "matches 2 runs" in capsys.readouterr().err


def test_history_json_is_machine_readable(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", str(FIXTURES / "inline-caught"), "--json", "--events"]) == 0
    doc = json.loads(capsys.readouterr().out)
    events = json.loads((FIXTURES / "inline-caught" / "history.json").read_text())["events"]
    assert doc["status"] == "SUCCEEDED"
    assert doc["event_count"] == len(events) == len(doc["events"])
    (crawl,) = doc["maps"]
    outcomes = {it["pages"][0].rsplit("/", 1)[1]: it["outcome"] for it in crawl["iterations"]}
    assert outcomes == {"a": "succeeded", "down": "caught", "boom": "caught", "b": "succeeded"}
    down = next(it for it in crawl["iterations"] if it["pages"] == [f"{SITE}/down"])
    assert (down["attempts"], down["retries"], down["caught_error"]) == (
        4,
        3,
        "TransientCrawlError",
    )
    assert doc["pages"] == {"total": 4, "ok": 2, "new": 2, "failed": 2}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["history", "no-such-run"], "no such run id"),
        (["history"], "RUN is required"),
        (["history", "x", "--arn", "arn:aws:states:us-east-1:1:execution:m:e"], "not both"),
        (["history", "--arn", "arn:aws:states:us-east-1:1:stateMachine:m"], "not a Step Functions"),
        (["cost", "nope"], "no such run id"),
    ],
)
def test_bad_run_gets_one_message_and_exit_2(
    home: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_unreadable_and_non_history_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_history = tmp_path / "x.json"
    not_history.write_text(json.dumps({"pages": ["https://example.com/"]}))
    assert main(["history", str(not_history)]) == 2
    assert "events: missing" in capsys.readouterr().err
    binary = tmp_path / "y.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    assert main(["report", str(binary), "-o", str(tmp_path / "r.html")]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_history_arn_fetches_with_pagination_and_saves_a_run_folder(tmp_path: Path) -> None:
    """A live moto execution, fetched back as `crawlmap history --arn` does (boto3 paginator)."""
    pages = [f"{SITE}/p{i}" for i in range(3)]
    fake = FakeCrawl({pages[1]: "flaky"}, batch_size=1, mode="inline")
    with moto_stepfunctions(fake) as sfn:
        arn, _, _, events = execute(sfn, "deployed-run", {"pages": pages}, definition())
        lambda_client = boto3.client("lambda", region_name="us-east-1")
        folder = fetch_execution(arn, save_dir=tmp_path / "saved", lambda_client=lambda_client)
    run = load_run(folder)
    assert len(run.history.events) == len(events)
    assert run.history.execution_arn == arn
    assert run.history.status == "SUCCEEDED"
    assert (folder / "definition.json").is_file()
    assert run.history.definition is not None
    functions = run.meta["functions"]
    # invocations counted from the history: 3 batches + 1 retry, one ListPages, one store
    assert functions["CrawlBatch"]["invocations"] == 4
    assert functions["ListPages"]["invocations"] == 1
    assert functions["StoreAndNotify"]["invocations"] == 1
    assert run.meta["mode"] == "inline"
    # the fetched folder works for report and cost
    assert main(["report", str(folder), "-o", str(tmp_path / "r.html")]) == 0
    assert main(["cost", str(folder), "--json"]) == 0


def fetch_distributed_run(save_dir: str) -> None:
    """Run a distributed execution in moto and fetch it into `save_dir` (see the test below)."""
    pages = [f"{SITE}/d{i}" for i in range(6)]
    fake = FakeCrawl({}, batch_size=2, mode="distributed")
    with moto_stepfunctions(fake) as sfn:
        arn, _, _, _ = execute(sfn, "dist-run", {"pages": pages}, definition())
        lambda_client = boto3.client("lambda", region_name="us-east-1")
        fetch_execution(arn, save_dir=Path(save_dir), lambda_client=lambda_client)


def test_history_arn_on_a_distributed_run_reads_the_map_run(tmp_path: Path) -> None:
    """moto's DescribeMapRun gives the child count; its ListExecutions(mapRunArn) is not
    implemented, which the fetch survives with a note (AWS implements it).

    The local engine's moto patches are installed first, as they are in any process that
    ran the engine before: with no engine run active, they leave moto's behaviour alone.
    """
    moto_patches.install()
    folder = tmp_path / "saved"
    fetch_distributed_run(str(folder))
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["mode"] == "distributed"
    assert meta["distributed"]["child_executions"] == 3  # one child per batch of two
    assert meta["distributed"]["execution_type"] == "STANDARD"  # moto runs STANDARD children
    assert meta["functions"]["CrawlBatch"]["invocations"] == 3
    assert any("not listed" in note for note in meta["notes"])
    assert main(["cost", str(folder), "--json"]) == 0


def test_cli_arn_subcommand_saves_under_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CRAWLMAP_HOME", str(tmp_path / "home"))
    fake = FakeCrawl({}, batch_size=2, mode="inline")
    with moto_stepfunctions(fake) as sfn:
        arn, _, _, _ = execute(sfn, "from-aws", {"pages": [f"{SITE}/x", f"{SITE}/y"]}, definition())
        assert main(["history", "--arn", arn]) == 0
    captured = capsys.readouterr()
    assert "from-aws" in captured.out
    assert (tmp_path / "home" / "runs" / "from-aws" / "history.json").is_file()


def test_fresh_moto_history_parses_like_the_saved_fixture(tmp_path: Path) -> None:
    """Guards the fixtures against a moto upgrade: regenerate inline-mixed and compare shapes."""
    pages = [f"{SITE}/page-{i}" for i in range(1, 7)]
    behaviour = {pages[1]: "flaky", pages[3]: "404", pages[4]: "robots"}
    folder = run_fixture(
        "inline-mixed",
        {"pages": pages},
        FakeCrawl(behaviour, batch_size=1, mode="inline"),
        out_dir=tmp_path,
    )
    fresh = load_run(folder).history
    saved = load_run(FIXTURES / "inline-mixed").history
    assert [e.type for e in fresh.events if e.iteration is None] == [
        e.type for e in saved.events if e.iteration is None
    ]
    assert sorted(e.type for e in fresh.events) == sorted(e.type for e in saved.events)
    assert [(it.pages, it.outcome, it.attempts) for it in fresh.iterations] == [
        (it.pages, it.outcome, it.attempts) for it in saved.iterations
    ]


def test_the_project_cli_registers_the_inspect_commands(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from crawlmap.cli import main as crawlmap_main

    assert crawlmap_main(["history", "latest", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["run_id"] == "inline-caught"
    assert crawlmap_main(["cost", "latest", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["state_transitions"] > 0
    assert crawlmap_main(["report", "missing-run"]) == 2
    assert "no such run id" in capsys.readouterr().err
