"""`crawlmap run`: crawl pages through the synthesized state machine on the local engine."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import signal
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NoReturn

from rich.console import Console

from crawlmap.cli.arguments import DB_HELP, add_engine_arguments, int_in, tunable_value
from crawlmap.cli.engine_setup import (
    as_list_pages_names,
    engine_options,
    max_pages_of,
    run_context,
)
from crawlmap.cli.exits import EXIT_INTERRUPTED, UsageError
from crawlmap.cli.outcome import (
    json_summary,
    output_rows,
    print_outcome,
    save_definition,
    write_output,
)
from crawlmap.cli.run_input import execution_input
from crawlmap.cli.store import check_store, store_errors
from crawlmap.console import CrawlProgress
from crawlmap.engine.interrupt import RunInterrupted
from crawlmap.engine.runner import EngineOptions, run_execution
from crawlmap.runfolder import RunFolderWriter
from lambdas.common import env, tunables
from lambdas.list_pages.execution_input import BATCH_SIZE_RANGE, DISTRIBUTED_THRESHOLD_RANGE

MAX_INLINE_CONCURRENCY = 40  # Step Functions' inline Map runs at most 40 iterations at once


# Tunables `crawlmap run` sets for one run through the functions' environment (no re-synthesis):
# option -> cdk.json key.
PER_RUN_TUNABLES = {
    "--per-host-concurrency": "per_host_concurrency",
    "--per-host-delay": "per_host_delay",
}


def run_overrides(args: argparse.Namespace) -> dict[str, str]:
    """The functions' environment for one run: the options that need no re-synthesis."""
    overrides: dict[str, str] = {}
    if args.allow_private_networks:
        overrides[env.ALLOW_PRIVATE_NETWORKS] = "true"
    if args.no_robots:
        overrides[env.OBEY_ROBOTS] = "false"
    for option, key in PER_RUN_TUNABLES.items():
        value = getattr(args, option.lstrip("-").replace("-", "_"))
        entry = tunables.tunable(key)
        if value is not None and entry.env is not None:
            overrides[entry.env] = str(tunables.to_env(entry, value))
    return overrides


def run_options(args: argparse.Namespace, on_invocation: Any) -> EngineOptions:
    return engine_options(args, on_invocation, run_overrides(args), run_context(args))


def add_run_command(commands: Any) -> None:
    run = commands.add_parser("run", help="crawl pages through the local Step Functions engine")
    run.add_argument("urls", nargs="*", metavar="URL", help="pages to crawl")
    run.add_argument("--pages-file", metavar="FILE", help="URLs, one per line or a JSON array")
    run.add_argument("--sitemap", metavar="URL", help="crawl the pages a sitemap lists")
    run.add_argument("--db", metavar="PATH", help=DB_HELP)
    run.add_argument("--output", metavar="FILE.jsonl", help="write one JSON line per page")
    run.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    run.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    run.add_argument(
        "--max-concurrency",
        type=int_in(1, MAX_INLINE_CONCURRENCY),
        metavar="N",
        help="inline Map concurrency (cdk.json max_concurrency; re-synthesizes once)",
    )
    run.add_argument(
        "--batch-size", type=int_in(*BATCH_SIZE_RANGE), metavar="N", help="pages per batch"
    )
    run.add_argument(
        "--distributed-threshold",
        type=int_in(*DISTRIBUTED_THRESHOLD_RANGE),
        metavar="N",
        help="take the distributed Map for more than N pages (also taken when the batches"
        " would not fit in the state payload, over roughly 260 pages)",
    )
    run.add_argument(
        "--allow-private-networks",
        action="store_true",
        help="let the crawler fetch private and loopback addresses (e.g. a site on 127.0.0.1)",
    )
    run.add_argument("--no-robots", action="store_true", help="ignore robots.txt")
    run.add_argument(
        "--mock-config",
        metavar="FILE",
        help="a MockConfigFile (Step Functions Local's format; default $SFN_MOCK_CONFIG)",
    )
    run.add_argument("--test-case", metavar="NAME", help="run this test case of the MockConfigFile")
    for option, key in PER_RUN_TUNABLES.items():
        entry = tunables.tunable(key)
        run.add_argument(
            option,
            type=tunable_value(key),
            metavar="N" if entry.codec == "int" else "SECONDS",
            help=f"{entry.help} ({entry.allowed}; cdk.json {key}, default {entry.default})",
        )
    run.add_argument(
        "-c",
        "--context",
        action="append",
        metavar="KEY=VALUE",
        help="override a cdk.json key for this run, as `cdk synth -c` does (repeatable;"
        ' e.g. -c max_pages=500 -c selectors=\'{"price": ".price"}\'; re-synthesizes once)',
    )
    add_engine_arguments(run)
    run.set_defaults(func=cmd_run)


def chosen_test_case(args: argparse.Namespace) -> contextlib.AbstractContextManager[None]:
    """--mock-config FILE --test-case NAME: the execution runs that MockConfigFile test case
    (mocked states answer from the file, the others run for real), as Step Functions Local
    does for `<stateMachineArn>#<TestCase>`."""
    from crawlmap.serve.mock_config import MOCK_CONFIG_ENV, MockConfigError, load_mock_config

    path = args.mock_config or os.environ.get(MOCK_CONFIG_ENV)
    if args.test_case is None:
        if args.mock_config:
            raise UsageError("--mock-config needs --test-case NAME (the test case to run)")
        return contextlib.nullcontext()
    if not path:
        raise UsageError(f"--test-case needs --mock-config FILE (or ${MOCK_CONFIG_ENV})")
    from crawlmap.serve import moto_hooks
    from crawlmap.serve.server import stack_name

    try:
        case = load_mock_config(path).test_case(stack_name(), args.test_case)
    except MockConfigError as exc:
        raise UsageError(f"--test-case {args.test_case}: {exc}") from None
    return moto_hooks.chosen_test_case(case)


def cmd_run(args: argparse.Namespace) -> int:
    payload, pages = execution_input(args)
    database = check_store(args, write=True)
    if args.output:
        write_output(args.output, [])  # fail on an unwritable path before crawling
    console = Console(stderr=True)
    progress = CrawlProgress(console, enabled=not args.quiet)
    options = run_options(args, progress)
    pages = as_list_pages_names(pages, options.template or {})
    limit = max_pages_of(options.template or {})
    if limit is not None and len(pages) > limit:  # ListPages would refuse the whole run
        raise UsageError(
            f"{len(pages)} pages to crawl, more than max_pages allows ({limit}; set it in "
            "cdk.json under crawlmap.max_pages)"
        )
    test_case = chosen_test_case(args)
    try:
        with progress, store_errors(args, database), sigterm_interrupts(), test_case:
            record = run_execution(payload, options)
    except RunInterrupted as interrupted:
        finish_interrupted(args, console, interrupted, pages, options.template)
    save_definition(record, options.template)
    if args.output:
        write_output(args.output, output_rows(record, pages))
    if args.json:
        print(json.dumps(json_summary(record)))
    elif not args.quiet:
        print_outcome(console, record, progress)
    reasons = [str(r.get("error") or "") for r in record.results] + [str(record.cause or "")]
    if not args.allow_private_networks and any(
        "refused: " in reason and "address" in reason for reason in reasons
    ):  # a page, or the sitemap ListPages could not fetch
        console.print(
            "[yellow]hint:[/] pages on this machine or a private network are refused by "
            "default (SSRF guard); pass --allow-private-networks to crawl them"
        )
    return 0 if record.status == "SUCCEEDED" else 1


def results_in_history(events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The page results of the CrawlBatch invocations that returned (inline Map), each page
    once (its last result), from their TaskSucceeded events."""
    found: dict[str, dict[str, Any]] = {}
    for event in events:
        details = event.get("taskSucceededEventDetails")
        if event.get("type") != "TaskSucceeded" or not isinstance(details, Mapping):
            continue
        try:
            output = json.loads(details.get("output") or "null")
        except (TypeError, ValueError):
            continue
        payload = output.get("Payload") if isinstance(output, dict) else None
        rows = payload.get("results") if isinstance(payload, dict) else None
        for row in rows if isinstance(rows, list) else []:
            if isinstance(row, dict) and isinstance(row.get("url"), str):
                found[row["url"]] = row
    return list(found.values())


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (`kill`, a CI's timeout) stops the run as Ctrl-C does: saved, not lost."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: signals are not ours to take
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def finish_interrupted(
    args: argparse.Namespace,
    console: Console,
    interrupted: RunInterrupted,
    pages: Sequence[str],
    template: Mapping[str, Any] | None,
) -> NoReturn:
    """What an interrupted run leaves: its folder (saved by the engine), --output's lines so
    far, one line saying where; exit 130 as a shell expects after Ctrl-C."""
    record = interrupted.record
    if not record.results:  # StoreAndNotify never ran: the pages crawled are in the history
        results = results_in_history(record.events)
        RunFolderWriter(record.run_dir).write_results(results)
        record = dataclasses.replace(record)  # reads the results just written
    save_definition(record, template)
    if args.output:
        write_output(args.output, output_rows(record, pages))
    if args.json:
        print(json.dumps(json_summary(record)))
    console.print(
        f"[bold red]interrupted[/]: the execution was stopped ({record.status}); what it did "
        f"so far is saved in {record.run_dir} (crawlmap history latest)",
        highlight=False,
    )
    # The stopped execution's threads (moto's interpreter, handlers that did not return in
    # time) must not outlive the engine's AWS stand-ins, where they would reach the real
    # endpoints or log into a closed logs.txt: the run is saved, so end the process now.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_INTERRUPTED)
