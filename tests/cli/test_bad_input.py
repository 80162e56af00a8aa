"""Every CLI entry point given bad files, stores or run ids: exit 2, one line on stderr that
names the option or path, nothing on stdout, no traceback anywhere, nothing run.

Each case runs main() in-process (its stdout and stderr captured). The stores are real
SQLite files (or files that only pretend to be); the read-only one is made immutable with
chattr, which root cannot write past either (skipped where chattr is unavailable).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lambdas.common.store import SQLiteStore
from tests.cli.conftest import exit_code

URL = "http://127.0.0.1:9/page"  # never fetched: every case stops before crawling


def real_store(path: Path) -> Path:
    store = SQLiteStore(path)
    store.list_runs(limit=1)  # creates the tables
    store.close()
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it
    connection.close()
    return path


def damaged_store(path: Path) -> Path:
    """A real store whose pages past the schema are overwritten: the header still says SQLite."""
    real_store(path)
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE filler (x)")
    connection.executemany("INSERT INTO filler VALUES (?)", [("x" * 500,)] * 200)
    connection.commit()
    connection.close()
    with path.open("r+b") as handle:
        handle.seek(4096 * 2)
        handle.write(b"\xa5" * 4096 * 6)
    return path


@pytest.fixture
def immutable() -> Iterator[Callable[[Path], Path]]:
    made: list[Path] = []

    def make(path: Path) -> Path:
        done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
        if done.returncode != 0:
            pytest.skip(f"chattr +i is not available here ({done.stderr.decode().strip()})")
        made.append(path)
        return path

    yield make
    for path in made:
        subprocess.run(["chattr", "-i", str(path)], check=False)


FILES: dict[str, Callable[[Path], object]] = {
    "folder.db": lambda p: p.mkdir(),
    "random.db": lambda p: p.write_bytes(os.urandom(4096)),
    "header-only.db": lambda p: p.write_bytes(b"SQLite format 3\x00" + b"garbage" * 300),
    "damaged.db": damaged_store,
    "blocker": lambda p: p.write_text("a file where a folder should be"),
    "surrogate.json": lambda p: p.write_text('["http://a.example/\\ud800"]'),
    "surrogate.txt": lambda p: p.write_bytes(b"http://a.example/\xed\xa0\x80\n"),
    "latin1.txt": lambda p: p.write_bytes(b"http://a.example/caf\xe9\n"),
    "numbers.json": lambda p: p.write_text('["http://a.example/", 1, null]'),
    "nested.json": lambda p: p.write_text('[["http://a.example/"]]'),
    "deep.json": lambda p: p.write_text("[" * 100_000),
    "empty.txt": lambda p: p.write_text(""),
    "comments.txt": lambda p: p.write_text("# nothing but a comment\n\n"),
    "empty-array.json": lambda p: p.write_text("[]"),
    "array.template.json": lambda p: p.write_text('[{"Resources": {}}]'),
    "object.template.json": lambda p: p.write_text('{"AWSTemplateFormatVersion": "2010-09-09"}'),
    "no-machine.template.json": lambda p: p.write_text('{"Resources": {"Q": {"Type": "A"}}}'),
    "bad-resource.template.json": lambda p: p.write_text('{"Resources": {"Q": 1}}'),
    "binary.template.json": lambda p: p.write_bytes(b"\xff\xfe\x00garbage"),
    "broken.template.json": lambda p: p.write_text('{"Resources": '),
    "folder.template.json": lambda p: p.mkdir(),
}

RUN = ["run", "--quiet", "--allow-private-networks"]

# (argv, what the one line must name); FILE names above are created in the test's folder.
CASES: list[tuple[list[str], list[str]]] = [
    *(
        ([*RUN, "--db", db, URL], ["--db", db, reason])
        for db, reason in [
            ("folder.db", "directory"),
            ("random.db", "not a SQLite database"),
            ("header-only.db", "not a usable SQLite database"),
            ("damaged.db", "damaged"),
            ("blocker/store.db", "not a directory"),
        ]
    ),
    *(
        (["runs", "--db", db], ["--db", db, reason])
        for db, reason in [
            ("folder.db", "directory"),
            ("random.db", "not a SQLite database"),
            ("header-only.db", "not a usable SQLite database"),
            ("damaged.db", "damaged"),
        ]
    ),
    (["demo", "--db", "random.db"], ["--db", "random.db"]),
    *(
        ([*RUN, "--pages-file", name], ["--pages-file", *named])
        for name, named in [
            ("surrogate.json", ["surrogate"]),
            ("surrogate.txt", ["surrogate.txt", "utf-8"]),
            ("latin1.txt", ["latin1.txt", "utf-8"]),
            ("numbers.json", ["numbers.json", "URL strings"]),
            ("nested.json", ["nested.json", "URL strings"]),
            ("deep.json", ["deep.json", "nested too deeply"]),
            ("empty.txt", ["empty.txt", "no URLs"]),
            ("comments.txt", ["comments.txt", "no URLs"]),
            ("empty-array.json", ["empty-array.json", "no URLs"]),
            ("missing.txt", ["missing.txt", "No such file"]),
        ]
    ),
    ([*RUN, "http://a.example/\udcff"], ["URL 1", "surrogate"]),
    ([*RUN, "--sitemap", "http://a.example/\ud800.xml"], ["--sitemap", "surrogate"]),
    *(
        ([*RUN, "--template", name, URL], ["--template", name, *named])
        for name, named in [
            ("array.template.json", ["not a CloudFormation template"]),
            ("object.template.json", ["not a CloudFormation template"]),
            ("no-machine.template.json", ["state machine"]),
            ("bad-resource.template.json", ["Resources"]),
            ("binary.template.json", ["cannot read"]),
            ("broken.template.json", ["not valid JSON"]),
            ("folder.template.json", ["cannot read"]),
            ("missing.template.json", ["No such file"]),
        ]
    ),
    *(([command, "run-does-not-exist"], ["run-does-not-exist"]) for command in ("history", "cost")),
    (["report", "run-does-not-exist", "-o", "r.html"], ["run-does-not-exist"]),
    *(([command, "latest"], ["latest", "no runs"]) for command in ("history", "cost")),
    (["report", "latest", "-o", "r.html"], ["latest", "no runs"]),
    (["history", "empty-array.json"], ["empty-array.json"]),
    (["cost", "folder.db"], ["folder.db", "no history.json"]),
]


def _id(case: object) -> str:
    return " ".join(str(part) for part in case)[:60] if isinstance(case, list) else ""


@pytest.mark.parametrize(("argv", "named"), CASES, ids=[_id(argv) for argv, _ in CASES])
def test_bad_input_is_one_line_and_exit_2(
    home: Path, argv: list[str], named: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    for name, make in FILES.items():
        make(home.parent / name)
    assert exit_code(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Traceback" not in captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    for name in named:
        assert name.lower() in lines[0].lower(), lines[0]
    assert not (home / "runs").exists()  # nothing ran


def test_a_read_only_store_is_one_line_from_run_and_runs(
    home: Path, immutable: Callable[[Path], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    store = immutable(real_store(home.parent / "read-only.db"))
    assert exit_code([*RUN, "--db", str(store), URL]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"--db {store}: is read-only" in err
    assert "Traceback" not in err
    # The store switches a file to WAL when it opens it (a write): one line, not a traceback.
    assert exit_code(["runs", "--db", str(store)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"--db {store}: " in err
    assert "readonly" in err


def test_an_unexpected_error_is_one_line_too(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bug is not bad input (exit 1), but it still gets one line, not a traceback."""
    import crawlmap.cli.runs

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(crawlmap.cli.runs, "check_store", broken)
    assert exit_code(["runs"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == (
        "crawlmap runs: internal error: RuntimeError: a bug"
        " (set CRAWLMAP_DEBUG=1 for the traceback)"
    )
    monkeypatch.setenv("CRAWLMAP_DEBUG", "1")
    with pytest.raises(RuntimeError, match="a bug"):
        exit_code(["runs"])
