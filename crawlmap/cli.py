"""The `crawlmap` command: run a crawl through the local engine, the demo, and past runs.

Exit codes: 0 the execution succeeded; 1 it failed (the Fail state's error and cause are
printed); 2 bad input on the command line (one message, no traceback).
`history`, `report` and `cost` come from crawlmap.inspect_cli.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import os
import signal
import sqlite3
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console

from crawlmap.console import CrawlProgress, results_table, summary_table, where_table
from crawlmap.engine.errors import EngineError
from crawlmap.engine.runner import EngineOptions, RunInterrupted, RunRecord, run_execution
from crawlmap.engine.template import (
    definition_of,
    function_specs,
    load_template,
    state_machine_resource,
)
from crawlmap.inspect_cli import add_inspect_commands
from crawlmap.runfolder import (
    RunFolderError,
    RunFolderWriter,
    cache_dir,
    crawlmap_home,
    default_database,
    is_run_folder,
    read_meta,
    runs_dir,
)
from crawlmap.runfolder.store_file import StoreFileError, check_store_file
from crawlmap.serve.cli import add_serve_command
from lambdas.common import env, tunables
from lambdas.common.errors import ConfigError
from lambdas.common.urls import DEFAULT_TRACKING_PARAMS, UrlError, canonicalize
from lambdas.list_pages.execution_input import BATCH_SIZE_RANGE, DISTRIBUTED_THRESHOLD_RANGE

DB_HELP = "SQLite store (default: crawlmap.db in $CRAWLMAP_HOME, else in .crawlmap/)"
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report after Ctrl-C
DEBUG_ENV = "CRAWLMAP_DEBUG"  # set: an internal error shows its traceback
MAX_INLINE_CONCURRENCY = 40  # Step Functions' inline Map runs at most 40 iterations at once


class UsageError(Exception):
    """Bad command-line input: printed as one line, exit code 2."""


def _int_in(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {value}")
        return value

    return parse


def _tunable_value(key: str) -> Callable[[str], Any]:
    """An option's parser that checks a value as cdk.json's `key` is checked (the range and
    type from lambdas/common/tunables.py, the one table of tunables)."""
    entry = tunables.tunable(key)

    def parse(text: str) -> Any:
        try:
            return tunables.from_env(entry, text)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(exc.problem) from None

    return parse


# Tunables `crawlmap run` sets for one run through the functions' environment (no re-synthesis):
# option -> cdk.json key.
PER_RUN_TUNABLES = {
    "--per-host-concurrency": "per_host_concurrency",
    "--per-host-delay": "per_host_delay",
}


# ------------------------------------------------------------------------ input


def read_pages_file(path: str) -> list[str]:
    """URLs from a file: a JSON array, or one URL per line ('#' comments and blanks skipped)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise UsageError(f"--pages-file {path}: cannot read it ({reason})") from None
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--pages-file {path}: not a valid JSON array ({exc.msg})") from None
        except RecursionError:
            raise UsageError(f"--pages-file {path}: JSON nested too deeply") from None
        if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
            raise UsageError(f"--pages-file {path}: the JSON array must hold URL strings")
        urls = list(data)
    else:
        lines = (line.strip() for line in text.splitlines())
        urls = [line for line in lines if line and not line.startswith("#")]
    if not urls:
        raise UsageError(f"--pages-file {path}: no URLs in it (one per line, or a JSON array)")
    return urls


def canonical_pages(urls: Sequence[str], source: str = "URL") -> list[str]:
    """Each URL's canonical form, first occurrence first; UsageError names a bad one."""
    seen: dict[str, None] = {}
    for index, url in enumerate(urls, start=1):
        try:
            seen.setdefault(canonicalize(_text(url)), None)
        except UrlError as exc:
            raise UsageError(f"{source} {index} ({url!r}): {exc}") from None
    return list(seen)


def _text(value: str) -> str:
    """`value` if it is text UTF-8 can carry: a lone surrogate (from a JSON escape such as
    \\ud800, or undecodable bytes in argv) cannot travel in the execution input."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UrlError(f"not valid Unicode text (lone surrogate at position {exc.start})") from None
    return value


def execution_input(args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    """The execution input for `crawlmap run` and the canonical input pages (none: sitemap)."""
    if args.sitemap and (args.urls or args.pages_file):
        raise UsageError("give either URLs / --pages-file or --sitemap, not both")
    payload: dict[str, Any]
    pages: list[str] = []
    if args.sitemap:
        try:
            canonicalize(_text(args.sitemap))
        except UrlError as exc:
            raise UsageError(f"--sitemap {args.sitemap!r}: {exc}") from None
        payload = {"sitemap": args.sitemap}
    else:
        urls = list(args.urls)
        pages = canonical_pages(urls)
        if args.pages_file:
            from_file = read_pages_file(args.pages_file)
            pages = list(dict.fromkeys(pages + canonical_pages(from_file, "--pages-file entry")))
            urls += from_file
        if not urls:
            raise UsageError("nothing to crawl: give URLs, --pages-file FILE or --sitemap URL")
        payload = {"pages": urls}
    if args.batch_size is not None:
        payload["batch_size"] = args.batch_size
    if args.distributed_threshold is not None:
        payload["distributed_threshold"] = args.distributed_threshold
    return payload, pages


def synthesized_template(
    console: Console, context: dict[str, Any], template_path: str | None = None
) -> dict[str, Any]:
    """The app's template (synthesized once per change of the app, then read from the cache)."""
    if template_path:
        return read_template(Path(template_path))
    with console.status("synthesizing the CDK app (cached after the first time)"):
        return load_template(cache_dir(), context)


def read_template(path: Path) -> dict[str, Any]:
    """A synthesized template file (--template), checked for what the engine needs: one
    state machine whose definition resolves, and the Lambda functions it calls."""
    where = f"--template {path}"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise UsageError(f"{where}: cannot read it ({reason})") from None
    try:
        template = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{where}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    except RecursionError:
        raise UsageError(f"{where}: JSON nested too deeply") from None
    hint = "give a synthesized template such as cdk.out/Crawlmap.template.json"
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise UsageError(f"{where}: not a CloudFormation template (no Resources object); {hint}")
    if not all(isinstance(resource, dict) for resource in template["Resources"].values()):
        raise UsageError(f"{where}: Resources must map logical ids to objects; {hint}")
    try:
        state_machine_resource(template)
        definition = definition_of(template, lambda logical_id, attribute: logical_id)
        functions = function_specs(template)
    except EngineError as exc:
        raise UsageError(f"{where}: {exc}; {hint}") from None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise UsageError(f"{where}: the state machine cannot be read ({exc}); {hint}") from None
    if not isinstance(definition, dict) or not isinstance(definition.get("States"), dict):
        raise UsageError(f"{where}: the state machine definition has no States; {hint}")
    if not functions:
        raise UsageError(f"{where}: no Lambda function with a Handler in it; {hint}")
    return template


def store_path(args: argparse.Namespace) -> Path:
    return Path(args.db) if args.db else default_database()


def check_store(args: argparse.Namespace, *, write: bool) -> Path:
    """The store `--db` names (or the default one), checked before anything runs."""
    path = store_path(args)
    try:
        check_store_file(path, write=write)
    except StoreFileError as exc:
        raise UsageError(f"{_store_name(args, path)}: {exc}") from None
    return path


def _store_name(args: argparse.Namespace, path: Path) -> str:
    return f"--db {path}" if args.db else f"the store {path} (--db)"


def list_pages_environment(template: Mapping[str, Any]) -> Mapping[str, Any]:
    """ListPages' Environment as the synthesized template sets it ({} without ListPages)."""
    for spec in function_specs(template).values():
        if spec.handler.startswith("lambdas.list_pages."):
            return spec.environment
    return {}


def max_pages_of(template: Mapping[str, Any]) -> int | None:
    """ListPages' page limit (cdk.json max_pages) as the synthesized template sets it."""
    try:
        return int(list_pages_environment(template)[env.MAX_PAGES])
    except (KeyError, TypeError, ValueError):
        return None


def as_list_pages_names(pages: Sequence[str], template: Mapping[str, Any]) -> list[str]:
    """The pages as ListPages will name them: it also drops the configured tracking_params
    (cdk.json, or -c), so `--output` must match its results by the same canonical form."""
    raw = list_pages_environment(template).get(env.TRACKING_PARAMS)
    configured = {n.strip() for n in raw.split(",") if n.strip()} if isinstance(raw, str) else set()
    if not configured:
        return list(pages)
    params = DEFAULT_TRACKING_PARAMS | configured
    return list(dict.fromkeys(canonicalize(page, params) for page in pages))


def engine_options(
    args: argparse.Namespace,
    on_invocation: Any,
    overrides: Mapping[str, str],
    context: dict[str, Any] | None = None,
) -> EngineOptions:
    """The options `run` and `demo` share (--db, --fast-retries, --template)."""
    return EngineOptions(
        home=crawlmap_home(),
        db_path=Path(args.db) if args.db else None,
        time_scale=0.05 if args.fast_retries else 1.0,
        env_overrides=overrides,
        template=synthesized_template(Console(stderr=True), context or {}, args.template),
        on_invocation=on_invocation,
    )


def run_context(args: argparse.Namespace) -> dict[str, Any]:
    """The cdk.json overrides of one run or serve (-c KEY=VALUE, --max-concurrency), checked as
    `cdk synth -c` checks them: ConfigError names the key."""
    from stacks.config import parse_context_options

    options = list(getattr(args, "context", None) or [])
    if getattr(args, "max_concurrency", None) is not None:
        options.append(f"max_concurrency={args.max_concurrency}")
    if options and args.template:
        raise UsageError("-c and --max-concurrency change the synthesized app: drop --template")
    return parse_context_options(options) if options else {}


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


# ------------------------------------------------------------------------ output


def save_definition(record: RunRecord, template: Mapping[str, Any] | None) -> None:
    """definition.json in the run folder (the loader reads it, as for deployed runs), so the
    report draws the whole state graph as the console does, states that did not run included."""
    target = record.run_dir / "definition.json"
    if template is None or target.exists() or not record.run_dir.is_dir():
        return
    try:
        # The graph needs the structure only: resources keep their logical ids.
        definition = definition_of(template, lambda logical_id, attribute: logical_id)
    except (EngineError, ValueError):
        return
    RunFolderWriter(record.run_dir).write_definition(definition)


def output_rows(record: RunRecord, pages: Sequence[str]) -> list[dict[str, Any]]:
    """One row per input page (every page exactly once), then any other result of the run."""
    by_url = {str(r["url"]): r for r in record.results}
    rows: list[dict[str, Any]] = []
    for url in pages:
        result = by_url.pop(url, None)
        if result is None:  # the run ended before this page was stored (e.g. it failed early)
            reason = record.cause or record.error or "not crawled"
            result = {
                "url": url,
                "final_url": None,
                "ok": False,
                "outcome": "failed",
                "status": None,
                "title": None,
                "attempts": 0,
                "error": f"run {record.status.lower()}: {reason}",
            }
        rows.append(result)
    rows.extend(by_url.values())
    return rows


def write_output(path: str, rows: Sequence[dict[str, Any]]) -> None:
    try:
        with Path(path).open("w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise UsageError(f"--output {path}: cannot write it ({exc.strerror})") from None


def json_summary(record: RunRecord) -> dict[str, Any]:
    data: dict[str, Any] = dict(record.summary or {})
    data.update(run_id=record.run_id, status=record.status, run_dir=str(record.run_dir))
    if record.status != "SUCCEEDED":
        data.update(error=record.error, cause=record.cause)
    return data


def ratio_exceeded_reason(record: RunRecord) -> str | None:
    """Why RunFailed failed the run, for a definition whose Fail state has no Cause."""
    summary = record.summary or {}
    if record.error != "FailureRatioExceeded" or not summary:
        return None
    attempted = int(summary.get("total", 0)) - int(summary.get("skipped", 0))
    return (
        f"{summary.get('failed')} of {attempted} attempted pages failed "
        f"({float(summary.get('failure_ratio', 0)):.0%}), more than failure_ratio allows"
    )


def print_outcome(
    console: Console, record: RunRecord, progress: CrawlProgress, *, failures: bool = True
) -> None:
    if record.summary:
        console.print(summary_table(record.summary, status=record.status, retried=progress.retried))
        for failure in (record.summary.get("first_failures") or []) if failures else []:
            console.print(f"  [red]failed[/] {failure.get('url')}  {failure.get('error')}")
    if record.status != "SUCCEEDED":
        reason = record.cause or ratio_exceeded_reason(record)
        cause = f": {reason}" if reason else ""
        console.print(f"[bold red]{record.status}[/] {record.error}{cause}", highlight=False)
    console.print(where_table(record.run_id, record.run_dir))


# ------------------------------------------------------------------------ commands


@contextlib.contextmanager
def store_errors(args: argparse.Namespace, database: Path) -> Iterator[None]:
    """A store that broke after its check (corrupted, locked, its disk full): one line."""
    try:
        yield
    except sqlite3.Error as exc:
        raise UsageError(f"{_store_name(args, database)}: the store failed ({exc})") from None


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
        record = dataclasses.replace(record, results=results)
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


def cmd_demo(args: argparse.Namespace) -> int:
    from crawlmap.demo import DemoSite

    database = check_store(args, write=True)
    console = Console(stderr=True)
    site = DemoSite(port=args.port)
    try:
        site.start()
    except OSError as exc:
        raise UsageError(f"--port {args.port}: cannot serve there ({exc.strerror})") from None
    with site:
        console.print(f"[bold]crawlmap demo[/]: a demo site is serving on {site.base}")
        console.print(
            "Crawling its sitemap through the synthesized state machine on the local engine "
            "(one page per Map iteration, so Step Functions' retries show in the history)."
        )
        progress = CrawlProgress(console)
        # Private networks allowed: the demo crawls its own loopback site.
        options = engine_options(args, progress, {env.ALLOW_PRIVATE_NETWORKS: "true"})
        with progress, store_errors(args, database):
            record = run_execution({"sitemap": site.url("/sitemap.xml"), "batch_size": 1}, options)
    save_definition(record, options.template)
    order = {f"{site.base}{path}": i for i, path in enumerate(site.demo_paths())}
    rows = sorted(record.results, key=lambda r: order.get(r["url"], len(order)))
    console.print(results_table(rows, base=site.base))
    print_outcome(console, record, progress, failures=False)
    return 0 if record.status == "SUCCEEDED" else 1


def cmd_runs(args: argparse.Namespace) -> int:
    from lambdas.common.store import SQLiteStore

    database = check_store(args, write=False)
    summaries = []
    if database.exists():
        store = SQLiteStore(database)
        try:
            with store_errors(args, database):
                summaries = store.list_runs(limit=args.limit)
        finally:
            store.close()
    rows = runs_rows(summaries, database, runs_dir(), args.limit)
    if args.json:
        print(json.dumps(rows))
        return 0
    console = Console()
    if not rows:
        console.print(
            f"no runs in {database} or {runs_dir()} yet: try [bold]crawlmap demo[/]",
            highlight=False,
        )
        return 0
    from rich.table import Table

    table = Table(header_style="bold", box=None)
    table.add_column("run (started, UTC)", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for column in ("pages", "ok", "fail", "skip", "new/chg/same"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("store")
    for row in rows:
        style = "green" if row["status"] == "SUCCEEDED" else "red"
        counts = (
            [str(row[k]) for k in ("total", "ok", "failed", "skipped")]
            + [f"{row['new']}/{row['changed']}/{row['unchanged']}"]
            if row["in_store"]
            else ["-"] * 5
        )
        where = "this store" if row["in_store"] else (row["store"] or "not stored") + " (folder)"
        table.add_row(str(row["run_id"]), f"[{style}]{row['status']}[/]", *counts, where)
    console.print(table)
    if any(not row["in_store"] for row in rows):
        console.print(
            f"this store: {database}; '(folder)': a run folder in {runs_dir()} with no summary"
            " in it (the run stopped before StoreAndNotify, or used another --db)",
            highlight=False,
        )
    return 0


def runs_rows(
    summaries: Sequence[Mapping[str, Any]], database: Path, runs: Path, limit: int
) -> list[dict[str, Any]]:
    """The store's runs and the run folders without a summary in it, newest first."""
    rows: dict[str, dict[str, Any]] = {}
    for summary in summaries:
        run_id = str(summary["run_id"])
        folder = runs / run_id
        meta = _folder_meta(folder)
        rows[run_id] = {
            **summary,
            "status": meta.get("status") or "unknown",
            "in_store": True,
            "store": str(database),
            "run_dir": str(folder) if is_run_folder(folder) else None,
        }
    folders = sorted(runs.iterdir(), reverse=True) if runs.is_dir() else []
    for folder in folders:
        if folder.name in rows or not is_run_folder(folder):
            continue
        meta = _folder_meta(folder)
        rows[folder.name] = {
            "run_id": folder.name,
            "started_at": meta.get("start_date"),
            "status": meta.get("status") or "unknown",
            "in_store": False,
            "store": meta.get("store_db"),
            "run_dir": str(folder),
        }
    ordered = sorted(
        rows.values(), key=lambda r: (str(r.get("started_at") or ""), r["run_id"]), reverse=True
    )
    return ordered[:limit]


def _folder_meta(folder: Path) -> Mapping[str, Any]:
    try:
        return read_meta(folder) if folder.is_dir() else {}
    except RunFolderError:
        return {"status": "unreadable"}


# ------------------------------------------------------------------------ parser


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


def build_parser() -> argparse.ArgumentParser:
    parser = CliParser(
        prog="crawlmap",
        description="A fan-out web crawler on AWS Step Functions, run here on the local engine.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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
        type=_int_in(1, MAX_INLINE_CONCURRENCY),
        metavar="N",
        help="inline Map concurrency (cdk.json max_concurrency; re-synthesizes once)",
    )
    run.add_argument(
        "--batch-size", type=_int_in(*BATCH_SIZE_RANGE), metavar="N", help="pages per batch"
    )
    run.add_argument(
        "--distributed-threshold",
        type=_int_in(*DISTRIBUTED_THRESHOLD_RANGE),
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
            type=_tunable_value(key),
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

    demo = commands.add_parser("demo", help="crawl a demo site on 127.0.0.1 and show the run")
    demo.add_argument("--port", type=_int_in(0, 65535), default=0, help="demo site port")
    demo.add_argument("--db", metavar="PATH", help=DB_HELP)
    add_engine_arguments(demo)
    demo.set_defaults(func=cmd_demo)

    runs = commands.add_parser("runs", help="list past local runs, newest first")
    runs.add_argument("--db", metavar="PATH", help=DB_HELP)
    runs.add_argument("--limit", type=_int_in(1, 1000), default=20, metavar="N")
    runs.add_argument("--json", action="store_true", help="print the runs as a JSON array")
    runs.set_defaults(func=cmd_runs)

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
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except UsageError as exc:
        print(f"crawlmap {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"crawlmap {args.command}: configuration error: {exc}", file=sys.stderr)
        return 2
    except EngineError as exc:
        print(f"crawlmap {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"crawlmap {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # stdout's reader went away (`crawlmap history RUN | head`): nothing left to say.
        # Point stdout at /dev/null so the interpreter's final flush does not complain.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except Exception as exc:  # a bug, not the input: still one line (the traceback on demand)
        if os.environ.get(DEBUG_ENV):
            raise
        print(
            f"crawlmap {args.command}: internal error: {type(exc).__name__}: {exc} "
            f"(set {DEBUG_ENV}=1 for the traceback)",
            file=sys.stderr,
        )
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
