"""crawlmap.cost on real histories (tests/fixtures/histories: produced by moto 5.2.5's Step
Functions interpreter, standing in for AWS, plus one hand-written AWS-format Distributed Map
history). Expected quantities are recomputed here from the raw events, meta.json and
prices.json with the billing rules written out, not taken from the model."""

from __future__ import annotations

import json
import math
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from crawlmap.cost import CostError, count_state_transitions, estimate_cost, load_prices
from crawlmap.history import load_run
from crawlmap.inspect_cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "histories"
ALL = ["inline-mixed", "inline-caught", "run-failed", "invalid-input", "distributed-moto",
       "aws-distributed"]  # fmt: skip


def transitions_from_raw_events(name: str) -> int:
    """AWS's rule applied to the raw JSON: each state entered, plus each retry (a TaskScheduled
    that follows a TaskFailed)."""
    events = json.loads((FIXTURES / name / "history.json").read_text())["events"]
    by_id = {e["id"]: e for e in events}
    entered = sum(1 for e in events if e["type"].endswith("StateEntered"))
    retries = sum(
        1
        for e in events
        if e["type"] == "TaskScheduled" and by_id[e["previousEventId"]]["type"] == "TaskFailed"
    )
    return entered + retries


def copy_run(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(FIXTURES / name, target)
    return target


def edit_meta(run_dir: Path, **changes: Any) -> None:
    meta = json.loads((run_dir / "meta.json").read_text())
    meta.update(changes)
    (run_dir / "meta.json").write_text(json.dumps(meta))


@pytest.mark.parametrize("name", ALL)
def test_state_transitions_match_the_history(name: str) -> None:
    breakdown = estimate_cost(FIXTURES / name)
    assert breakdown.state_transitions == transitions_from_raw_events(name)
    assert breakdown.transitions.total == transitions_from_raw_events(name)


def test_retries_are_billed_as_transitions() -> None:
    caught = count_state_transitions(load_run(FIXTURES / "inline-caught").history)
    # /down was tried four times: three retries.
    assert caught.retries == 3
    assert caught.total == caught.states_entered + 3
    # the inner states of each inline iteration are billed; the iterations themselves are not
    assert caught.iteration_entered == 6  # 4 x CrawlBatch + 2 x RecordFailure


def test_cli_json_prints_the_breakdown_with_the_history_count(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["cost", str(FIXTURES / "inline-mixed"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["state_transitions"] == transitions_from_raw_events("inline-mixed")
    prices = load_prices()
    assert doc["total_usd"] == pytest.approx(sum(line["usd"] for line in doc["lines"]))
    sfn = next(line for line in doc["lines"] if line["price_key"].startswith("stepfunctions"))
    assert sfn["usd"] == pytest.approx(
        doc["state_transitions"] * prices["stepfunctions_standard_transition"].usd
    )
    assert doc["naive_total_usd"] > 0
    assert doc["ratio"] == pytest.approx(doc["naive_total_usd"] / doc["total_usd"])


def test_distributed_children_are_billed_as_transitions_and_express() -> None:
    meta = json.loads((FIXTURES / "aws-distributed" / "meta.json").read_text())
    children = meta["distributed"]["child_executions"]
    breakdown = estimate_cost(FIXTURES / "aws-distributed")
    assert breakdown.billed_state_transitions == breakdown.state_transitions + children
    lines = {line.item: line for line in breakdown.lines}
    assert lines["Express requests (child executions)"].quantity == children
    per_child = meta["distributed"]["child_duration_ms_total"] / children  # 1620 ms
    billed_ms = math.ceil(per_child / 100) * 100  # rounded up to 100 ms: 1700
    express = next(line for line in breakdown.lines if line.item.startswith("Express duration"))
    assert express.quantity == pytest.approx(children * billed_ms / 1000 * 64 / 1024)


def test_standard_children_bill_their_own_transitions_instead_of_express(tmp_path: Path) -> None:
    run_dir = copy_run("aws-distributed", tmp_path)
    meta = json.loads((run_dir / "meta.json").read_text())
    distributed = meta["distributed"]
    express = estimate_cost(run_dir)
    edit_meta(run_dir, distributed={**distributed, "execution_type": "STANDARD"})
    standard = estimate_cost(run_dir)
    assert standard.billed_state_transitions == (
        express.billed_state_transitions + distributed["child_state_transitions"]
    )
    assert not [x for x in standard.lines if x.item.startswith("Express")]
    assert [x for x in express.lines if x.item.startswith("Express")]


def test_lambda_gb_seconds_follow_memory_and_architecture(tmp_path: Path) -> None:
    run_dir = copy_run("aws-distributed", tmp_path)
    meta = json.loads((run_dir / "meta.json").read_text())
    crawl = meta["functions"]["CrawlBatch"]
    arm = estimate_cost(run_dir)
    line = next(x for x in arm.lines if x.item.startswith("CrawlBatch GB-seconds"))
    per_call_ms = math.ceil(crawl["duration_ms_total"] / crawl["invocations"])
    expected_gbs = crawl["memory_mb"] / 1024 * per_call_ms * crawl["invocations"] / 1000
    assert line.quantity == pytest.approx(expected_gbs)
    for fn in meta["functions"].values():
        fn["architecture"] = "x86_64"
    edit_meta(run_dir, functions=meta["functions"])
    x86 = estimate_cost(run_dir)
    prices = load_prices()
    ratio = prices["lambda_gb_second_x86_64"].usd / prices["lambda_gb_second_arm64"].usd
    assert x86.by_service()["Lambda"] > arm.by_service()["Lambda"]
    arm_duration = sum(x.usd for x in arm.lines if "GB-seconds" in x.item)
    x86_duration = sum(x.usd for x in x86.lines if "GB-seconds" in x.item)
    assert x86_duration == pytest.approx(arm_duration * ratio)


def test_dynamodb_write_units_count_each_item_per_kilobyte(tmp_path: Path) -> None:
    run_dir = copy_run("inline-mixed", tmp_path)
    small = estimate_cost(run_dir)
    writes = json.loads((run_dir / "meta.json").read_text())["store_writes"]
    wru = next(x for x in small.lines if x.item == "write request units")
    assert wru.quantity == writes  # items under 1 KB: one unit each
    rows = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    for row in rows:
        row["description"] = "x" * 1500  # now each item is between 1 and 2 KB... plus keys
    (run_dir / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    big = estimate_cost(run_dir)
    assert next(x for x in big.lines if x.item == "write request units").quantity == writes * 2


def test_scaling_is_linear_except_the_per_run_part() -> None:
    measured = estimate_cost(FIXTURES / "aws-distributed")
    scaled = estimate_cost(FIXTURES / "aws-distributed", pages=100_000)
    factor = 100_000 / measured.measured_pages
    assert scaled.scale == pytest.approx(factor)
    top = measured.transitions.top_level_entered
    assert scaled.state_transitions == pytest.approx(
        top + (measured.state_transitions - top) * factor
    )
    assert scaled.usage.child_executions == pytest.approx(measured.usage.child_executions * factor)
    listing = next(f for f in scaled.usage.functions if f.name == "ListPages")
    assert listing.invocations == 1  # one ListPages per run, whatever the size
    # the per-run part does not grow: less than proportional, more than the measured run
    assert measured.total_usd * 1000 < scaled.total_usd < measured.total_usd * factor


def test_naive_design_pays_a_transition_and_an_invocation_per_page() -> None:
    run = load_run(FIXTURES / "aws-distributed")
    breakdown = estimate_cost(run)
    pages = len(run.results)
    retries = sum(r["attempts"] - 1 for r in run.results)
    failed = sum(r["outcome"] == "failed" for r in run.results)
    assert breakdown.naive.state_transitions == (
        breakdown.transitions.top_level_entered + pages + retries + failed
    )
    page_fn = next(x for x in breakdown.naive.lines if x.item.startswith("CrawlPage"))
    assert page_fn.quantity == pages + retries
    # one-page batches (inline-caught) gain nothing from batching: about the naive cost
    one_page = estimate_cost(FIXTURES / "inline-caught")
    assert one_page.ratio == pytest.approx(1.0, rel=0.1)
    # batched + distributed at 100,000 pages: cheaper than naive
    assert estimate_cost(run, pages=100_000).ratio > 1


def test_prices_have_a_source_and_a_date() -> None:
    prices = load_prices()
    assert prices.region == "us-east-1"
    date.fromisoformat(prices.as_of)
    for price in prices.prices.values():
        assert price.source.startswith("https://aws.amazon.com/")
        date.fromisoformat(price.as_of)
        assert price.usd > 0
    assert prices["stepfunctions_standard_transition"].usd * 1000 == pytest.approx(0.025)
    assert prices["stepfunctions_express_request"].usd * 1_000_000 == pytest.approx(1.0)
    assert prices["lambda_gb_second_arm64"].usd < prices["lambda_gb_second_x86_64"].usd


def test_cost_needs_meta(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lone = tmp_path / "history.json"
    lone.write_text((FIXTURES / "inline-mixed" / "history.json").read_text())
    with pytest.raises(CostError, match=r"meta\.json missing"):
        estimate_cost(tmp_path)
    assert main(["cost", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "meta.json missing" in err
    assert "Traceback" not in err


def test_bad_meta_and_bad_pages_get_one_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = copy_run("inline-mixed", tmp_path)
    assert main(["cost", str(run_dir), "--pages", "0"]) == 2
    assert "--pages" in capsys.readouterr().err
    edit_meta(run_dir, functions={"CrawlBatch": {"memory_mb": "lots"}})
    assert main(["cost", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert "functions.CrawlBatch.memory_mb" in err
    assert "Traceback" not in err


def test_text_output_shows_the_scaling_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cost", str(FIXTURES / "aws-distributed"), "--pages", "100000"]) == 0
    out = capsys.readouterr().out
    assert "Scaling" in out
    for pages in ("20", "1,000", "100,000"):
        assert f" {pages} " in out
    assert "Naive design" in out
