"""`crawlmap history`, `crawlmap report`, `crawlmap cost`: inspect a recorded execution.

RUN is a local run id (or a unique prefix, or `latest`) under `<home>/runs/` (home is
`.crawlmap/` or $CRAWLMAP_HOME), a path to a run folder or a saved history.json, or a
deployed execution ARN (fetched with GetExecutionHistory and saved as a run folder first).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from crawlmap.aws_fetch import AwsFetchError, fetch_execution
from crawlmap.history import HistoryError, MapIteration, RunFolder, format_history, load_run
from crawlmap.runfolder import is_run_folder, plain, runs_dir

EXIT_BAD_INPUT = 2
EXECUTION_ARN_PREFIX = "arn:aws:states:"


class InspectError(Exception):
    """A user-facing problem: printed as one line, exit code 2."""


# ---------------------------------------------------------------- RUN resolution


def resolve_run(run: str, *, home: Path | None = None) -> Path:
    """The run folder or history file RUN names."""
    candidate = Path(run).expanduser()
    if candidate.exists():
        return candidate
    runs = runs_dir(home)
    names = sorted(p.name for p in runs.iterdir() if p.is_dir()) if runs.is_dir() else []
    if run == "latest":
        # The newest folder a run wrote into (one that failed before it started is skipped).
        folders = [runs / n for n in names if is_run_folder(runs / n)]
        if not folders:
            raise InspectError(f"RUN 'latest': no runs in {runs} yet (try crawlmap demo)")
        return max(folders, key=lambda p: (p.stat().st_mtime, p.name))
    if run in names:
        return runs / run
    matches = [n for n in names if n.startswith(run)]
    if len(matches) == 1:
        return runs / matches[0]
    if len(matches) > 1:
        raise InspectError(f"RUN {run!r} matches {len(matches)} runs: {', '.join(matches[:5])}")
    where = f"{runs}" if runs.is_dir() else f"{runs} (no runs yet)"
    raise InspectError(f"RUN {run!r}: no such run id in {where}, and no such file or folder")


def open_run(run: str, *, save_dir: Path | None = None) -> RunFolder:
    if run.startswith(EXECUTION_ARN_PREFIX):
        try:
            path = fetch_execution(run, save_dir=save_dir)
        except AwsFetchError as exc:
            raise InspectError(str(exc)) from None
    else:
        path = resolve_run(run)
    try:
        return load_run(path)
    except HistoryError as exc:
        raise InspectError(f"RUN {run!r}: {exc}") from None


# ---------------------------------------------------------------- commands


def _iteration_json(it: MapIteration) -> dict[str, Any]:
    return {
        "index": it.index,
        "lane_id": it.lane_id,
        "batch_index": it.batch_index,
        "outcome": it.outcome,
        "status": it.status,
        "batch_id": it.batch_id,
        "pages": list(it.pages),
        "page_count": it.page_count,
        "pages_ok": it.pages_ok,
        "pages_failed": it.pages_failed,
        "attempts": it.attempts,
        "retries": it.retries,
        "caught_error": it.caught_error,
        "caught_cause": it.caught_cause,
        "started_at": it.started_at,
        "ended_at": it.ended_at,
        "duration_ms": it.duration_ms,
    }


def history_json(run: RunFolder, *, events: bool = False) -> dict[str, Any]:
    h = run.history
    doc: dict[str, Any] = {
        "run_id": h.name,
        "execution_arn": h.execution_arn,
        "status": h.status,
        "started_at": h.started_at,
        "stopped_at": h.stopped_at,
        "duration_ms": h.duration_ms,
        "error": h.error,
        "cause": h.cause,
        "input": h.input,
        "output": h.output,
        "event_count": len(h.events),
        "states": [
            {
                "name": v.name,
                "type": v.type,
                "entered_at": v.entered_at,
                "exited_at": v.exited_at,
                "duration_ms": v.duration_ms,
                "status": v.status,
                "iteration": list(v.iteration) if v.iteration else None,
                "attempts": v.attempts,
                "retries": v.retries,
                "error": v.error,
                "cause": v.cause,
            }
            for v in h.states
        ],
        "maps": [
            {
                "name": m.name,
                "mode": m.mode,
                "status": m.status,
                "length": m.length,
                "map_run_arn": m.map_run_arn,
                "started_at": m.started_at,
                "ended_at": m.ended_at,
                "iterations": [_iteration_json(it) for it in m.iterations],
            }
            for m in h.maps
        ],
        "tasks": [
            {
                "state": t.state,
                "function": t.function,
                "attempt": t.attempt,
                "outcome": t.outcome,
                "scheduled_at": t.scheduled_at,
                "ended_at": t.ended_at,
                "duration_ms": t.duration_ms,
                "error": t.error,
                "iteration": list(t.iteration) if t.iteration else None,
            }
            for t in h.tasks
        ],
    }
    doc["batches"] = [
        {**_iteration_json(it), "map": it.map_name} for it, _ in run.batch_iterations()
    ]
    if run.results:
        doc["pages"] = _page_counts(run.results)
    if isinstance(run.meta.get("distributed"), Mapping):
        doc["distributed"] = run.meta["distributed"]
    if events:
        doc["events"] = [
            {
                "id": e.id,
                "previous_id": e.previous_id,
                "type": e.type,
                "timestamp": e.timestamp,
                "state": e.state,
                "iteration": list(e.iteration) if e.iteration else None,
            }
            for e in h.events
        ]
    return plain(doc)


def _page_counts(results: tuple[Mapping[str, Any], ...]) -> dict[str, int]:
    counts: dict[str, int] = {"total": len(results), "ok": 0}
    for r in results:
        if r.get("ok") is True:
            counts["ok"] += 1
        outcome = str(r.get("outcome") or "unknown")
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def cmd_history(args: argparse.Namespace) -> int:
    if args.arn:
        if args.run:
            raise InspectError("give either RUN or --arn, not both")
        save = Path(args.save) if args.save else None
        run = open_run(args.arn, save_dir=save)
        print(f"saved to {run.path}", file=sys.stderr)
    elif args.run:
        run = open_run(args.run)
    else:
        raise InspectError("RUN is required (a run id, a run folder or history.json, or --arn ARN)")
    if args.json:
        print(json.dumps(history_json(run, events=args.events), ensure_ascii=False, indent=1))
        return 0
    print(
        format_history(run.history, show_iterations=None if args.all else 20, children=run.children)
    )
    distributed = run.meta.get("distributed")
    if isinstance(distributed, Mapping) and distributed.get("child_executions") is not None:
        failed = distributed.get("child_executions_failed")
        print(
            f"\nDistributed Map: {distributed['child_executions']} child executions"
            f" ({distributed.get('execution_type', 'EXPRESS')})"
            + (f", {failed} failed" if failed is not None else "")
            + " (from meta.json)"
        )
    if run.results:
        counts = _page_counts(run.results)
        # ok pages are new, changed or unchanged; failed and skipped pages are not ok.
        fetched = ", ".join(
            f"{k} {counts[k]}" for k in ("new", "changed", "unchanged") if counts.get(k)
        )
        others = "".join(
            f", {k} {v}"
            for k, v in counts.items()
            if k not in ("total", "ok", "new", "changed", "unchanged")
        )
        print(
            f"\nPages (results.jsonl): {counts['total']} total, ok {counts['ok']}"
            + (f" ({fetched})" if fetched else "")
            + others
        )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from crawlmap.report import write_report

    run = open_run(args.run)
    out = write_report(run, Path(args.output))
    print(f"report written to {out}")
    return 0


def cmd_cost(args: argparse.Namespace) -> int:
    from crawlmap.cost import CostError, estimate_run, format_cost, format_scaling, project_run

    run = open_run(args.run)
    if args.pages is not None and args.pages <= 0:
        raise InspectError(f"--pages: must be a positive number, got {args.pages}")
    if args.hosts is not None and args.project is None:
        raise InspectError("--hosts: only with --project PAGES")
    if args.project is not None and args.pages is not None:
        raise InspectError("--pages: not with --project (which plans the pages itself)")
    try:
        if args.project is not None:
            breakdown = project_run(
                run,
                pages=args.project,
                hosts=args.hosts if args.hosts is not None else 1,
                page_wait_ms=100.0 if args.page_wait_ms is None else args.page_wait_ms,
            )
        else:
            breakdown = estimate_run(run, pages=args.pages, page_wait_ms=args.page_wait_ms)
    except CostError as exc:
        raise InspectError(f"RUN {args.run!r}: {exc}") from None
    if args.json:
        print(json.dumps(plain(breakdown.to_json()), indent=1))
        return 0
    print(format_cost(breakdown))
    measured = breakdown.measured_pages
    if args.pages is not None and measured:
        targets = sorted({measured, *_steps(measured, args.pages), args.pages})
        print("\nScaling (linear from the measured run):")
        print(format_scaling(run, targets))
    return 0


def _steps(low: int, high: int) -> list[int]:
    steps = []
    value = 10 ** math.ceil(math.log10(max(low, 1)) + 1e-9)
    while value < high:
        if value > low:
            steps.append(value)
        value *= 10
    return steps


def _run_safely(
    handler: Callable[[argparse.Namespace], int],
) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except (InspectError, HistoryError) as exc:
            print(f"crawlmap: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except BrokenPipeError:
            raise  # stdout's reader left (`| head`): crawlmap.cli.main ends quietly
        except OSError as exc:
            print(f"crawlmap: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_BAD_INPUT

    return run


def add_inspect_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register `history`, `report` and `cost`. Each sets `func` (args -> exit code)."""
    history = subparsers.add_parser(
        "history",
        help="print an execution like the console's history",
        description="Print a recorded execution: states entered and exited, each Map"
        " iteration with its result, retries and caught errors.",
    )
    history.add_argument("run", nargs="?", help="run id, run folder, history.json or execution ARN")
    history.add_argument("--arn", help="fetch this deployed execution from AWS (boto3)")
    history.add_argument("--save", metavar="DIR", help="with --arn: the run folder to save into")
    history.add_argument("--json", action="store_true", help="print the model as JSON")
    history.add_argument("--events", action="store_true", help="with --json: include every event")
    history.add_argument("--all", action="store_true", help="list every Map iteration")
    history.set_defaults(func=_run_safely(cmd_history))

    report = subparsers.add_parser(
        "report", help="write a self-contained HTML report of an execution"
    )
    report.add_argument("run", help="run id, run folder, history.json or execution ARN")
    report.add_argument("-o", "--output", default="report.html", help="HTML file to write")
    report.set_defaults(func=_run_safely(cmd_report))

    cost = subparsers.add_parser(
        "cost", help="estimate what a run would cost on AWS (and the naive design)"
    )
    cost.add_argument("run", help="run id, run folder or history.json (with meta.json)")
    cost.add_argument("--json", action="store_true", help="print the breakdown as one JSON object")
    cost.add_argument("--pages", type=int, help="scale the measured run linearly to N pages")
    cost.add_argument(
        "--page-wait-ms",
        type=float,
        metavar="MS",
        help="assume each page waits MS on the network (default: its measured elapsed_ms;"
        " with --project: 100)",
    )
    cost.add_argument(
        "--project",
        type=int,
        metavar="PAGES",
        help="price PAGES pages laid out by ListPages' planner, with the run's CPU per page",
    )
    cost.add_argument(
        "--hosts", type=int, metavar="N", help="with --project: the pages spread over N hosts"
    )
    cost.set_defaults(func=_run_safely(cmd_cost))


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (the project's CLI registers the same commands)."""
    parser = argparse.ArgumentParser(prog="crawlmap")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_inspect_commands(subparsers)
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
