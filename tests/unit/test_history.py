"""crawlmap.history on real execution histories.

The fixtures under tests/fixtures/histories/ were produced by moto 5.2.5's Step Functions
interpreter (moto stands in for AWS) running a state machine shaped like docs/CONTRACT.md,
with Lambda calls intercepted in-process (make_fixtures.py regenerates them); aws-distributed/
is a hand-written history in the format AWS returns for a Distributed Map (epoch timestamps,
child executions outside the parent history). The scenario of each fixture (which page was
flaky, which one stayed down...) is defined in make_fixtures.py; the expectations below follow
from that scenario and from the raw events, not from the parser.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from crawlmap.history import (
    HistoryError,
    format_history,
    load_run,
    parse_history,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "histories"
SITE = "http://127.0.0.1:8000"


def raw_events(name: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = json.loads((FIXTURES / name / "history.json").read_text())[
        "events"
    ]
    return events


def test_inline_run_lists_top_level_states_in_order_with_their_outcome() -> None:
    history = load_run(FIXTURES / "inline-mixed").history
    top = [(v.name, v.type, v.status) for v in history.states if v.iteration is None]
    assert top == [
        ("ListPages", "Task", "succeeded"),
        ("ChooseMode", "Choice", "succeeded"),
        ("CrawlPages", "Map", "succeeded"),
        ("StoreAndNotify", "Task", "succeeded"),
        ("CheckFailureRatio", "Choice", "succeeded"),
        ("Succeeded", "Succeed", "succeeded"),
    ]
    assert history.status == "SUCCEEDED"
    assert history.output["total"] == 6
    assert history.input == {"pages": [f"{SITE}/page-{i}" for i in range(1, 7)]}


def test_every_map_iteration_is_found_with_its_batch_pages() -> None:
    run = load_run(FIXTURES / "inline-mixed")
    (crawl,) = run.history.maps
    assert crawl.mode == "inline"
    assert crawl.length == 6
    assert [it.index for it in crawl.iterations] == list(range(6))
    pages = [url for it in crawl.iterations for url in it.pages]
    # every page of the input in exactly one iteration
    assert sorted(pages) == sorted(run.history.input["pages"])
    assert all(it.status == "succeeded" for it in crawl.iterations)


def test_a_retried_iteration_shows_the_failed_attempt_then_success() -> None:
    history = load_run(FIXTURES / "inline-mixed").history
    flaky = next(it for it in history.iterations if it.pages == (f"{SITE}/page-2",))
    assert flaky.outcome == "retried"
    assert flaky.attempts == 2
    assert flaky.pages_ok == 1
    attempts = [t for t in history.tasks if t.iteration == ("CrawlPages", flaky.index)]
    assert [(t.attempt, t.outcome, t.error) for t in attempts] == [
        (1, "failed", "TransientCrawlError"),
        (2, "succeeded", None),
    ]
    assert all(t.function == "crawlmap-CrawlBatch" for t in attempts)
    others = [it for it in history.iterations if it is not flaky]
    assert all(it.attempts == 1 and not it.retried for it in others)


def test_page_counts_per_iteration_match_the_results_file() -> None:
    run = load_run(FIXTURES / "inline-mixed")
    by_url = {r["url"]: r for r in run.results}
    for it in run.history.iterations:
        expected_ok = sum(1 for url in it.pages if by_url[url]["ok"])
        expected_failed = sum(1 for url in it.pages if by_url[url]["outcome"] == "failed")
        assert (it.pages_ok, it.pages_failed) == (expected_ok, expected_failed)


def test_caught_errors_after_exhausted_retries_and_after_an_unhandled_error() -> None:
    history = load_run(FIXTURES / "inline-caught").history
    by_page = {it.pages[0]: it for it in history.iterations}
    down = by_page[f"{SITE}/down"]
    # Retry MaxAttempts 3: the first try and three retries, then the Catch.
    assert down.attempts == 4
    assert down.outcome == "caught"
    assert down.caught_error == "TransientCrawlError"
    assert "timeout" in (down.caught_cause or "")
    assert down.states == ("CrawlBatch", "RecordFailure")
    assert (down.pages_ok, down.pages_failed) == (0, 1)
    boom = by_page[f"{SITE}/boom"]
    # ValueError is not in the Retry list: caught at once.
    assert boom.attempts == 1
    assert boom.caught_error == "ValueError"
    assert by_page[f"{SITE}/a"].outcome == "succeeded"
    crawl_visits = [v for v in history.states if v.name == "CrawlBatch"]
    assert sorted(v.status for v in crawl_visits) == ["caught", "caught", "succeeded", "succeeded"]
    assert history.status == "SUCCEEDED"


def test_retry_count_matches_the_raw_events() -> None:
    """A retry is a TaskScheduled that follows a TaskFailed: count them straight from the JSON."""
    for name in ("inline-mixed", "inline-caught", "run-failed"):
        events = raw_events(name)
        by_id = {e["id"]: e for e in events}
        expected = sum(
            1
            for e in events
            if e["type"] == "TaskScheduled" and by_id[e["previousEventId"]]["type"] == "TaskFailed"
        )
        history = load_run(FIXTURES / name).history
        assert sum(v.retries for v in history.states) == expected


def test_a_catch_without_state_exited_event_still_reads_as_caught() -> None:
    """Whether or not a *StateExited event follows the failure, a Catch is a Catch."""
    events = raw_events("inline-caught")
    by_id = {e["id"]: e for e in events}
    dropped = {
        e["id"]: e["previousEventId"]
        for e in events
        if e["type"] == "TaskStateExited" and by_id[e["previousEventId"]]["type"] == "TaskFailed"
    }
    assert len(dropped) == 2
    kept = []
    for event in events:
        if event["id"] in dropped:
            continue
        relinked = dict(event)
        relinked["previousEventId"] = dropped.get(
            event["previousEventId"], event["previousEventId"]
        )
        kept.append(relinked)
    history = parse_history({"events": kept})
    caught = sorted(it.pages[0] for it in history.iterations if it.outcome == "caught")
    assert caught == [f"{SITE}/boom", f"{SITE}/down"]
    statuses = sorted(v.status for v in history.states if v.name == "CrawlBatch")
    assert statuses == ["caught", "caught", "succeeded", "succeeded"]


def test_invalid_input_is_caught_into_the_fail_state_with_the_field_named() -> None:
    history = load_run(FIXTURES / "invalid-input").history
    statuses = {v.name: v.status for v in history.states}
    assert statuses == {
        "ListPages": "caught",
        "ExplainInvalidInput": "succeeded",
        "InvalidInput": "failed",
    }
    assert history.status == "FAILED"
    assert history.error == "InvalidInput"
    assert history.cause is not None
    assert history.cause.startswith("pages[1]:")
    assert history.maps == ()


def test_failure_ratio_exceeded_ends_in_run_failed() -> None:
    history = load_run(FIXTURES / "run-failed").history
    assert history.status == "FAILED"
    assert history.error == "FailureRatioExceeded"
    assert history.state_status()["RunFailed"] == "failed"
    assert "Succeeded" not in history.state_status()
    assert [len(it.pages) for it in history.iterations] == [2, 1]


@pytest.mark.parametrize("name", ["distributed-moto", "aws-distributed"])
def test_distributed_map_run_is_recognised_without_iterations(name: str) -> None:
    history = load_run(FIXTURES / name).history
    (run,) = history.maps
    assert run.name == "CrawlPagesDistributed"
    assert run.mode == "distributed"
    assert run.status == "succeeded"
    assert run.map_run_arn is not None
    assert run.map_run_arn.startswith("arn:aws:states:")
    assert run.iterations == ()  # children are separate executions
    assert history.status == "SUCCEEDED"


def test_epoch_timestamps_from_the_aws_api_are_read() -> None:
    history = load_run(FIXTURES / "aws-distributed").history
    assert history.started_at.isoformat() == "2026-11-26T06:00:00.123000+00:00"
    assert history.duration_ms == pytest.approx(9641, abs=1)
    store = next(v for v in history.states if v.name == "StoreAndNotify")
    assert store.duration_ms == pytest.approx(852, abs=1)
    (task,) = [t for t in history.tasks if t.state == "StoreAndNotify"]
    assert task.function == "CrawlmapStack-StoreAndNotifyFn-AbC123"


def test_event_order_in_the_file_does_not_matter() -> None:
    events = raw_events("inline-caught")
    shuffled = events[:]
    random.Random(7).shuffle(shuffled)  # noqa: S311 - a fixed, not a secret, order
    assert parse_history({"events": shuffled}) == parse_history({"events": events})


def test_events_inside_iterations_are_attributed_to_them() -> None:
    history = load_run(FIXTURES / "inline-mixed").history
    by_id = {e.id: e for e in history.events}
    for raw in raw_events("inline-mixed"):
        if raw["type"] == "MapIterationStarted":
            index = raw["mapIterationStartedEventDetails"]["index"]
            assert by_id[raw["id"]].iteration == ("CrawlPages", index)
        if raw["type"] in ("TaskStateEntered", "TaskScheduled") and by_id[raw["id"]].state in (
            "ListPages",
            "StoreAndNotify",
        ):
            assert by_id[raw["id"]].iteration is None
    crawl_events = [e for e in history.events if e.state == "CrawlBatch"]
    assert crawl_events
    assert all(e.iteration is not None for e in crawl_events)


def test_format_history_shows_states_iterations_retries_and_caught_errors() -> None:
    text = format_history(load_run(FIXTURES / "inline-caught").history)
    assert "ListPages" in text
    assert "4 iterations" in text
    assert "attempt 1 of CrawlBatch failed" in text
    assert "caught TransientCrawlError" in text
    assert "caught ValueError" in text
    assert "SUCCEEDED" in text
    for url in ("/a", "/down", "/boom", "/b"):
        assert f"{SITE}{url}]" in text


def test_format_history_limits_plain_iterations_but_keeps_notable_ones() -> None:
    text = format_history(load_run(FIXTURES / "inline-mixed").history, show_iterations=1)
    assert "#0 " in text
    assert "#1 " in text  # retried: always listed
    assert "#5 " not in text
    assert "4 more succeeded iterations" in text


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"nope": []}, "events: missing"),
        ({"events": "x"}, "events: expected a list"),
        ({"events": []}, "events: the history is empty"),
        ({"events": [1]}, "events[0]: expected an object"),
        ({"events": [{"id": 1}]}, "events[0].type: missing"),
        ({"events": [{"type": "ExecutionStarted", "id": "1"}]}, "events[0].id"),
        (
            {
                "events": [
                    {"type": "TaskStateEntered", "id": 1, "timestamp": "2026-01-01T00:00:00Z"}
                ]
            },
            "expected ExecutionStarted",
        ),
        ({"events": [{"type": "ExecutionStarted", "id": 1, "timestamp": "soon"}]}, "not a date"),
    ],
)
def test_malformed_histories_get_one_clear_message(doc: Any, message: str) -> None:
    with pytest.raises(HistoryError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_history(doc)


def test_load_run_reports_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="no such run folder"):
        load_run(tmp_path / "missing")
    with pytest.raises(HistoryError, match=r"no history\.json"):
        load_run(tmp_path)
    (tmp_path / "history.json").write_text("{not json")
    with pytest.raises(HistoryError, match="not valid JSON"):
        load_run(tmp_path)


def test_a_lone_history_file_loads_without_sidecars(tmp_path: Path) -> None:
    lone = tmp_path / "saved.json"
    lone.write_text((FIXTURES / "inline-mixed" / "history.json").read_text())
    run = load_run(lone)
    assert run.meta == {}
    assert run.results == ()
    assert len(run.history.iterations) == 6


def test_lanes_are_read_shown_and_reported(tmp_path: Path) -> None:
    """v0.2's graph: CrawlPages (lanes) -> CrawlLane (batches), and the distributed lanes'
    child histories kept in children/: every batch is listed, labelled #lane.index."""
    from crawlmap.history import format_history
    from crawlmap.report import write_report

    inline = load_run(FIXTURES / "inline-lanes")
    assert len(inline.history.batch_iterations) == 9
    text = format_history(inline.history)
    assert "9 batches in 3 lanes" in text
    assert "#1.1" in text
    distributed = load_run(FIXTURES / "distributed-lanes")
    assert len(distributed.children) == 2
    assert len(distributed.batch_iterations()) == 5
    text = format_history(distributed.history, children=distributed.children)
    assert "5 batches in 2 lanes (items 2)" in text
    html = write_report(distributed, tmp_path / "r.html").read_text()
    assert "2 items (child executions)" in html
    assert "5 batches in 2 child executions" in html
