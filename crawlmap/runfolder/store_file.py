"""Is this path a SQLite store crawlmap can use? Checked by the CLI before it opens one.

The store (lambdas/common/store/sqlite.py) opens its file inside the functions, where a bad
file would fail every invocation; the CLI checks it first and says what is wrong in one line.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

SQLITE_HEADER = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database file
# quick_check reads every page (about a second for this much): a bigger store is checked
# by its header and schema only, and a corruption deeper in it is reported when it is hit.
QUICK_CHECK_UP_TO_BYTES = 64 * 1024 * 1024


class StoreFileError(ValueError):
    """The path cannot be the store: the message says why (without naming the option)."""


def check_store_file(path: Path, *, write: bool) -> None:
    """Raise StoreFileError unless `path` is a SQLite database (or can become one) that can be
    read, and written when `write`. A missing file is fine when its folder can hold it."""
    if path.is_dir():
        raise StoreFileError("is a directory, not a SQLite database file")
    if not path.exists():
        folder = _nearest_existing(path.parent)
        if not folder.is_dir():
            raise StoreFileError(f"cannot be created: {folder} is not a directory")
        return
    if not path.is_file():
        raise StoreFileError("is not a regular file")
    try:
        with path.open("rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise StoreFileError(f"cannot be read ({exc.strerror or exc})") from None
    if header and header != SQLITE_HEADER:  # an empty file is a new database to SQLite
        raise StoreFileError("is not a SQLite database (it lacks SQLite's file header)")
    mode = "rw" if write else "ro"
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True, timeout=5)
    except sqlite3.Error as exc:
        raise StoreFileError(f"cannot be opened ({exc})") from None
    try:
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        if path.stat().st_size <= QUICK_CHECK_UP_TO_BYTES:
            problem = connection.execute("PRAGMA quick_check(1)").fetchone()[0]
            if problem != "ok":
                raise StoreFileError(f"is a damaged SQLite database ({_one_line(problem)})")
        if write:
            # A write rolled back: SQLite opens a file it cannot write read-only, silently.
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.execute("CREATE TABLE main.crawlmap_write_probe (x)")
            finally:
                connection.execute("ROLLBACK")
    except sqlite3.DatabaseError as exc:
        reason = str(exc)
        if "readonly" in reason or "read-only" in reason:
            raise StoreFileError("is read-only (the run writes page states into it)") from None
        raise StoreFileError(f"is not a usable SQLite database ({reason})") from None
    finally:
        connection.close()


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _nearest_existing(folder: Path) -> Path:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder
