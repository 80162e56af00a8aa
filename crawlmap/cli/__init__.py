"""The `crawlmap` command: run a crawl through the local engine, the demo, and past runs.

Exit codes: 0 the execution succeeded; 1 it failed (the Fail state's error and cause are
printed); 2 bad input on the command line (one message, no traceback); see exits.py.
One module per command: run.py, demo.py, runs.py; `history`, `report` and `cost` come from
crawlmap.inspect_cli, `serve` from crawlmap.serve.cli. What they share: arguments.py (parsing),
store.py (--db), engine_setup.py (the template and the engine's options), outcome.py (what a
run prints and leaves), exits.py (errors and exit codes).
"""

from __future__ import annotations

import argparse
import logging
import warnings
from collections.abc import Sequence

from crawlmap.cli.arguments import CliParser
from crawlmap.cli.demo import add_demo_command
from crawlmap.cli.exits import run_command
from crawlmap.cli.run import add_run_command
from crawlmap.cli.runs import add_runs_command
from crawlmap.inspect_cli import add_inspect_commands
from crawlmap.serve.cli import add_serve_command


def build_parser() -> argparse.ArgumentParser:
    parser = CliParser(
        prog="crawlmap",
        description="A fan-out web crawler on AWS Step Functions, run here on the local engine.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_run_command(commands)
    add_demo_command(commands)
    add_runs_command(commands)
    add_inspect_commands(commands)
    add_serve_command(commands)  # crawlmap/serve/cli.py
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Locally the engine disables Powertools metrics (POWERTOOLS_METRICS_DISABLED); a
    # disabled metric set still auto-flushes at 100 values, and the handler's own flush
    # then warns that it is empty. That is Lambda-side noise, not something to show here.
    warnings.filterwarnings(
        "ignore", message="No application metrics to publish", category=UserWarning
    )
    # A log handler that fails (a stopped run's thread writing to its closed logs.txt) must
    # not print a traceback onto the user's terminal.
    logging.raiseExceptions = False
    return run_command(build_parser().parse_args(argv))


__all__ = ["build_parser", "main"]
