"""`crawlmap run --mock-config FILE --test-case NAME`: a MockConfigFile test case on the
synthesized machine from the command line, as Step Functions Local runs `<arn>#<TestCase>`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawlmap.cli import main
from tests.cli.conftest import exit_code

MOCKS = Path(__file__).resolve().parents[1] / "mocks" / "MockConfigFile.json"
PAGES = ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"]  # mocked: nothing is fetched


def test_a_test_case_runs_its_mocked_path(
    home: Path, template_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["run", "--json", "--fast-retries", "--template", str(template_file),
         "--mock-config", str(MOCKS), "--test-case", "RunFailed", *PAGES]
    )  # fmt: skip
    assert code == 1
    summary = json.loads(capsys.readouterr().out)
    assert summary["status"] == "FAILED"
    assert summary["error"] == "FailureRatioExceeded"
    history = json.loads((Path(summary["run_dir"]) / "history.json").read_text())
    entered = [
        e["stateEnteredEventDetails"]["name"]
        for e in history["events"]
        if e["type"].endswith("StateEntered")
    ]
    assert entered[-2:] == ["CheckFailureRatio", "RunFailed"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--test-case", "RunFailed"], "--test-case needs --mock-config"),
        (["--mock-config", str(MOCKS)], "--mock-config needs --test-case"),
        (["--mock-config", str(MOCKS), "--test-case", "Nope"], "--test-case Nope"),
        (["--mock-config", "missing.json", "--test-case", "RunFailed"], "missing.json"),
    ],
)
def test_bad_test_case_options_get_one_message(
    home: Path,
    template_file: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    code = exit_code(["run", "--template", str(template_file), *args, *PAGES])
    assert code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_serve_takes_the_same_context_overrides(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert exit_code(["serve", "--port", "0", "-c", "batch_size=0"]) == 2
    err = capsys.readouterr().err
    assert "crawlmap.batch_size" in err
    assert "Traceback" not in err
