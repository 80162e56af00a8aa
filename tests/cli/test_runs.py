"""`crawlmap runs`: the store's runs and the run folders it has no summary of, newest first,
in the home CRAWLMAP_HOME names."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.cli.conftest import RecordingSite, exit_code

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "histories"


def test_runs_lists_store_runs_and_folders_without_a_summary(
    home: Path, template_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with RecordingSite() as site:
        argv = ["run", "--quiet", "--json", "--allow-private-networks",
                "--template", str(template_file), site.url("/page/stored")]  # fmt: skip
        assert exit_code(argv) == 0
    stored = json.loads(capsys.readouterr().out)["run_id"]
    runs = home / "runs"
    # A run that never reached StoreAndNotify (its folder only), one older than the stored
    # run, and a folder that is no run at all.
    aborted = runs / "run-29991231T235959Z-abcdef"
    shutil.copytree(FIXTURES / "inline-mixed", aborted)
    meta = json.loads((aborted / "meta.json").read_text())
    meta.update(run_id=aborted.name, status="ABORTED", start_date="2999-12-31T23:59:59.000Z")
    (aborted / "meta.json").write_text(json.dumps(meta))
    older = runs / "run-20000101T000000Z-000000"
    shutil.copytree(FIXTURES / "inline-caught", older)
    meta = json.loads((older / "meta.json").read_text())
    meta.update(run_id=older.name, start_date="2000-01-01T00:00:00.000Z")
    (older / "meta.json").write_text(json.dumps(meta))
    (runs / "not-a-run").mkdir()

    assert exit_code(["runs", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["run_id"] for row in rows] == [aborted.name, stored, older.name]
    by_id = {row["run_id"]: row for row in rows}
    assert by_id[stored]["in_store"] is True
    assert by_id[stored]["status"] == "SUCCEEDED"
    assert by_id[stored]["total"] == 1
    assert (by_id[aborted.name]["in_store"], by_id[aborted.name]["status"]) == (False, "ABORTED")
    assert by_id[older.name]["run_dir"] == str(older)

    assert exit_code(["runs", "--limit", "1", "--json"]) == 0
    assert [row["run_id"] for row in json.loads(capsys.readouterr().out)] == [aborted.name]

    assert exit_code(["runs"]) == 0
    table = capsys.readouterr().out
    assert aborted.name in table
    assert "(folder)" in table
    assert "not-a-run" not in table


def test_runs_with_nothing_anywhere_says_where_it_looked(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert exit_code(["runs"]) == 0
    out = "".join(capsys.readouterr().out.split())  # rich folds a long path over lines
    assert "noruns" in out
    assert str(home / "crawlmap.db") in out
    assert str(home / "runs") in out


def test_a_run_with_another_store_is_listed_with_that_store(
    home: Path, template_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.db"
    with RecordingSite() as site:
        argv = ["run", "--quiet", "--json", "--allow-private-networks", "--db", str(other),
                "--template", str(template_file), site.url("/page/elsewhere")]  # fmt: skip
        assert exit_code(argv) == 0
    run_id = json.loads(capsys.readouterr().out)["run_id"]
    assert exit_code(["runs", "--json"]) == 0  # the default store: it has no such run
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["run_id"], row["in_store"]) == (run_id, False)
    assert row["store"] == str(other.resolve())
