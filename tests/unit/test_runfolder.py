"""The run folder's one writer and one reader (crawlmap.runfolder)."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
from pathlib import Path

import pytest

from crawlmap.history import load_run
from crawlmap.runfolder import (
    RunFolderError,
    RunFolderWriter,
    RunMeta,
    cache_dir,
    crawlmap_home,
    plain,
    read_meta,
    read_run,
    runs_dir,
)

STARTED = {
    "id": 1,
    "previousEventId": 0,
    "type": "ExecutionStarted",
    "timestamp": "2026-11-26T10:00:00.000Z",
    "executionStartedEventDetails": {"input": "{}"},
}


def meta(**changes: object) -> RunMeta:
    base: RunMeta = {
        "run_id": "run-1",
        "execution_arn": None,
        "state_machine_arn": None,
        "status": "RUNNING",
        "start_date": "2026-11-26T10:00:00.000Z",
        "stop_date": None,
        "mode": "inline",
        "functions": {},
        "distributed": None,
        "source": "local",
        "notes": [],
    }
    return {**base, **changes}  # type: ignore[typeddict-item]


def test_what_the_writer_writes_the_reader_reads(tmp_path: Path) -> None:
    writer = RunFolderWriter.create("run-1", home=tmp_path)
    assert writer.path == tmp_path / "runs" / "run-1"
    writer.write_meta(meta())
    writer.write_input({"pages": ["https://example.com/"]})
    writer.write_history([STARTED])
    writer.write_results([{"url": "https://example.com/", "ok": True, "title": "Café"}])
    writer.write_definition({"StartAt": "A", "States": {}})
    files = read_run(writer.path)
    assert files.meta["status"] == "RUNNING"
    assert files.history == {"events": [STARTED]}
    assert files.results[0]["title"] == "Café"
    assert files.definition == {"StartAt": "A", "States": {}}
    # a partial history (a run still going, or killed) loads as a RUNNING execution
    assert load_run(writer.path).history.status == "RUNNING"
    with pytest.raises(FileExistsError):
        RunFolderWriter.create("run-1", home=tmp_path)


def test_a_lone_surrogate_stays_valid_json(tmp_path: Path) -> None:
    writer = RunFolderWriter.create("run-s", home=tmp_path)
    writer.write_results([{"url": "https://example.com/", "title": "bad \udc80 byte"}])
    writer.write_history([{**STARTED, "executionStartedEventDetails": {"input": '"\udcff"'}}])
    files = read_run(writer.path)
    assert files.results[0]["title"] == "bad \udc80 byte"
    (writer.path / "results.jsonl").read_text(encoding="utf-8")  # strict UTF-8 on disk


def test_one_normaliser_for_every_writer() -> None:
    class Colour(enum.Enum):
        RED = "red"

    @dataclasses.dataclass
    class Point:
        x: int

    moment = datetime.datetime(2026, 11, 26, 10, 0, 54, 100000, tzinfo=datetime.UTC)
    assert plain(
        {"at": moment, "c": Colour.RED, "p": Point(1), "t": (1, 2), "n": float("nan")}
    ) == {"at": "2026-11-26T10:00:54.100Z", "c": "red", "p": {"x": 1}, "t": [1, 2], "n": None}
    naive = datetime.datetime(2026, 11, 26, 10, 0, 0)
    assert plain(naive) == "2026-11-26T10:00:00.000Z"


def test_older_meta_keys_are_read_as_the_new_ones(tmp_path: Path) -> None:
    (tmp_path / "meta.json").write_text(json.dumps({"status": "SUCCEEDED", "engine_notes": ["x"]}))
    read = read_meta(tmp_path)
    assert read["notes"] == ["x"]
    assert read["source"] == "local"
    assert "engine_notes" not in read


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[]", "meta.json: expected a JSON object"),
        ('{"functions": []}', "meta.json functions: expected an object"),
        ('{"notes": "x"}', "meta.json notes: expected a list"),
        ('{"distributed": 3}', "meta.json distributed: expected an object or null"),
        ("{", "not valid JSON"),
    ],
)
def test_a_bad_meta_gets_one_message_naming_the_field(
    tmp_path: Path, content: str, message: str
) -> None:
    (tmp_path / "meta.json").write_text(content)
    with pytest.raises(RunFolderError, match=message):
        read_meta(tmp_path)


def test_a_folder_killed_before_its_first_event_says_so(tmp_path: Path) -> None:
    writer = RunFolderWriter.create("run-k", home=tmp_path)
    writer.write_meta(meta())
    with pytest.raises(RunFolderError, match=r"no history\.json .*stopped before"):
        read_run(writer.path)


def test_child_histories_are_kept_beside_the_parent(tmp_path: Path) -> None:
    writer = RunFolderWriter.create("run-d", home=tmp_path)
    writer.write_history([STARTED])
    relative = writer.write_child_history("CrawlPages:1/lane 0", [STARTED])
    assert relative == "children/CrawlPages_1_lane_0.json"
    files = read_run(writer.path)
    assert [name for name, _ in files.child_histories()] == ["CrawlPages_1_lane_0"]


def test_home_and_cache_follow_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRAWLMAP_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "c"))
    assert crawlmap_home() == tmp_path / "h"
    assert runs_dir() == tmp_path / "h" / "runs"
    assert cache_dir() == tmp_path / "c" / "crawlmap"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/is/ignored")  # as the XDG spec says
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_dir() == tmp_path / ".cache" / "crawlmap"
