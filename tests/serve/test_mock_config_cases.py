"""The shipped MockConfigFile's test cases, each run on the synthesized machine (run_test_case)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawlmap.serve.testing import run_test_case
from lambdas.common import states

MOCKS = Path(__file__).resolve().parents[1] / "mocks" / "MockConfigFile.json"
PAGES = {"pages": ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"]}


def test_a_transient_failure_is_recovered_by_retry(tmp_path: Path) -> None:
    run = run_test_case("TransientFailureRetried", PAGES, mock_config=MOCKS, home=tmp_path)
    assert run.status == "SUCCEEDED"
    events = run.task_events(states.CRAWL_BATCH)
    assert events.count("TaskFailed") == 1
    assert events[-1] == "TaskSucceeded"


def test_a_batch_failing_every_attempt_is_caught_into_record_failure(tmp_path: Path) -> None:
    run = run_test_case("BatchCaught", PAGES, mock_config=MOCKS, home=tmp_path)
    assert states.RECORD_FAILURE in run.entered_states()
    assert run.task_events(states.CRAWL_BATCH).count("TaskFailed") == 4  # 1 + 3 retries


def test_invalid_input_ends_in_the_invalid_input_state(tmp_path: Path) -> None:
    run = run_test_case("InvalidInput", PAGES, mock_config=MOCKS, home=tmp_path)
    assert run.status == "FAILED"
    assert run.entered_states()[-1] == states.INVALID_INPUT


@pytest.mark.parametrize("case", ["LambdaThrottled", "StoreAndNotifyRetried"])
def test_service_errors_are_retried_and_the_run_succeeds(tmp_path: Path, case: str) -> None:
    run = run_test_case(case, PAGES, mock_config=MOCKS, home=tmp_path)
    assert run.status == "SUCCEEDED"
    failed = sum(
        run.task_events(name).count("TaskFailed")
        for name in (states.CRAWL_BATCH, states.STORE_AND_NOTIFY)
    )
    assert failed >= 1


def test_the_happy_path_stores_every_mocked_page(tmp_path: Path) -> None:
    run = run_test_case("HappyPath", PAGES, mock_config=MOCKS, home=tmp_path)
    assert run.status == "SUCCEEDED"
    assert run.task_events(states.CRAWL_BATCH).count("TaskFailed") == 0
    assert states.RECORD_FAILURE not in run.entered_states()
    assert run.entered_states()[-1] == states.SUCCEEDED


def test_pages_failing_past_the_ratio_end_in_run_failed_after_storing(tmp_path: Path) -> None:
    run = run_test_case("RunFailed", PAGES, mock_config=MOCKS, home=tmp_path)
    assert run.status == "FAILED"
    assert run.error == "FailureRatioExceeded"
    entered = run.entered_states()
    # The summary is stored and published before the run fails.
    assert entered.index(states.STORE_AND_NOTIFY) < entered.index(states.RUN_FAILED)
    assert entered[-1] == states.RUN_FAILED
