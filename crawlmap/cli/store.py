"""The store `--db` names (or the default one): checked before a command runs, and a store that
breaks later reported as one line."""

from __future__ import annotations

import argparse
import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from crawlmap.cli.exits import UsageError
from crawlmap.runfolder import default_database
from crawlmap.runfolder.store_file import StoreFileError, check_store_file


def store_path(args: argparse.Namespace) -> Path:
    return Path(args.db) if args.db else default_database()


def check_store(args: argparse.Namespace, *, write: bool) -> Path:
    """The store `--db` names (or the default one), checked before anything runs."""
    path = store_path(args)
    try:
        check_store_file(path, write=write)
    except StoreFileError as exc:
        raise UsageError(f"{store_name(args, path)}: {exc}") from None
    return path


def store_name(args: argparse.Namespace, path: Path) -> str:
    return f"--db {path}" if args.db else f"the store {path} (--db)"


@contextlib.contextmanager
def store_errors(args: argparse.Namespace, database: Path) -> Iterator[None]:
    """A store that broke after its check (corrupted, locked, its disk full): one line."""
    try:
        yield
    except sqlite3.Error as exc:
        raise UsageError(f"{store_name(args, database)}: the store failed ({exc})") from None
