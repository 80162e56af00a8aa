"""The argument parsing the commands share: the parser, checked number options, --db's help,
the engine options `run`, `demo` and `serve` take, and reading the file an option names."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from crawlmap.cli.exits import UsageError
from lambdas.common import tunables
from lambdas.common.errors import ConfigError

DB_HELP = "SQLite store (default: crawlmap.db in $CRAWLMAP_HOME, else in .crawlmap/)"


def int_in(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {value}")
        return value

    return parse


def tunable_value(key: str) -> Callable[[str], Any]:
    """An option's parser that checks a value as cdk.json's `key` is checked (the range and
    type from lambdas/common/tunables.py, the one table of tunables)."""
    entry = tunables.tunable(key)

    def parse(text: str) -> Any:
        try:
            return tunables.from_env(entry, text)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(exc.problem) from None

    return parse


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """--fast-retries and --template, which `run` and `demo` share (see engine_options)."""
    parser.add_argument(
        "--fast-retries",
        action="store_true",
        help="scale Retry waits down 20x locally (AWS always waits the full interval)",
    )
    parser.add_argument("--template", metavar="FILE", help="a synthesized template to run instead")


class CliParser(argparse.ArgumentParser):
    """argparse, with a bad option reported as one line (the usage is one --help away)."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def read_option_file(path: Path, where: str) -> str:
    """The text of the file an option names (`where`: the option and the path, as the error
    names them); a file that cannot be read is a UsageError."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise UsageError(f"{where}: cannot read it ({reason})") from None
