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
from dataclasses import asdict, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from crawlmap.engine.runs import iso, runs_dir, write_json
from crawlmap.history import ExecutionHistory, HistoryError, RunFolder, format_history, load_run

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
    if run == "latest" and names:
        return max((runs / n for n in names), key=lambda p: (p.stat().st_mtime, p.name))
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
        path = fetch_execution(run, save_dir=save_dir)
    else:
        path = resolve_run(run)
    try:
        return load_run(path)
    except HistoryError as exc:
        raise InspectError(f"RUN {run!r}: {exc}") from None


# ---------------------------------------------------------------- fetching from AWS


def fetch_execution(
    arn: str,
    *,
    save_dir: Path | None = None,
    sfn_client: Any = None,
    lambda_client: Any = None,
) -> Path:
    """Fetch a deployed execution (history with data, description, definition) into a run folder.

    The folder gets history.json, input.json, output.json, definition.json and a meta.json
    built from what AWS reports: Lambda memory/architecture from GetFunctionConfiguration,
    invocations and durations from the history's task events, child executions from the
    Map Run. Returns the folder.
    """
    try:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:  # pragma: no cover - boto3 is a dependency
        raise InspectError("--arn needs boto3") from None
    parts = arn.split(":")
    if len(parts) < 8 or parts[5] != "execution":
        raise InspectError(f"--arn: not a Step Functions execution ARN: {arn!r}")
    region = parts[3]
    try:
        sfn = sfn_client or boto3.client("stepfunctions", region_name=region)
        described = sfn.describe_execution(executionArn=arn)
        events: list[dict[str, Any]] = []
        paginator = sfn.get_paginator("get_execution_history")
        for page in paginator.paginate(executionArn=arn, includeExecutionData=True):
            events.extend(dict(event) for event in page["events"])
        definition: Any = None
        try:
            machine = sfn.describe_state_machine_for_execution(executionArn=arn)
            definition = json.loads(machine["definition"])
        except (ClientError, KeyError, ValueError):
            definition = None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise InspectError(
            f"--arn: AWS refused {error.get('Code', 'the request')}: {error.get('Message', exc)}"
        ) from None
    except BotoCoreError as exc:
        raise InspectError(f"--arn: cannot reach AWS: {exc}") from None

    name = str(described.get("name") or parts[-1])
    folder = save_dir or (runs_dir() / name)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "history.json", {"events": events})
    write_json(folder / "input.json", json.loads(described.get("input") or "null"))
    if described.get("output"):
        write_json(folder / "output.json", json.loads(described["output"]))
    if isinstance(definition, dict):
        write_json(folder / "definition.json", definition)
    history = load_run(folder).history
    meta = _meta_from_aws(described, history, sfn, lambda_client, region)
    write_json(folder / "meta.json", meta)
    return folder


def _child_execution_type(definition: Mapping[str, Any] | None, state: str) -> str:
    """EXPRESS or STANDARD, from the Map state's ProcessorConfig (top-level states only)."""
    states = (definition or {}).get("States")
    spec = states.get(state) if isinstance(states, Mapping) else None
    processor = (spec or {}).get("ItemProcessor") if isinstance(spec, Mapping) else None
    config = (processor or {}).get("ProcessorConfig") if isinstance(processor, Mapping) else None
    kind = (config or {}).get("ExecutionType") if isinstance(config, Mapping) else None
    return str(kind or "STANDARD").upper()


def _assumed_function() -> dict[str, Any]:
    """A function's meta.json entry before its configuration is read: 1024 MB arm64."""
    return {"memory_mb": 1024, "architecture": "arm64", "invocations": 0, "duration_ms_total": 0.0}


def _meta_from_aws(
    described: Mapping[str, Any],
    history: ExecutionHistory,
    sfn: Any,
    lambda_client: Any,
    region: str,
) -> dict[str, Any]:
    from botocore.exceptions import BotoCoreError, ClientError

    functions: dict[str, dict[str, Any]] = {}
    function_names: dict[str, str] = {}
    for task in history.tasks:
        entry = functions.setdefault(task.state, _assumed_function())
        entry["invocations"] += 1
        entry["duration_ms_total"] += task.duration_ms or 0.0
        if task.function:
            function_names[task.state] = task.function
    notes: list[str] = []
    client = lambda_client
    for state, function in function_names.items():
        try:
            if client is None:
                import boto3

                client = boto3.client("lambda", region_name=region)
            config = client.get_function_configuration(FunctionName=function)
            functions[state]["memory_mb"] = int(config.get("MemorySize", 1024))
            functions[state]["architecture"] = (config.get("Architectures") or ["x86_64"])[0]
        except (ClientError, BotoCoreError) as exc:
            notes.append(f"{function}: configuration not readable ({exc}); assumed 1024 MB arm64")
    distributed: dict[str, Any] | None = None
    for run in history.maps:
        if run.mode != "distributed" or not run.map_run_arn:
            continue
        try:
            map_run = sfn.describe_map_run(mapRunArn=run.map_run_arn)
            children = int(map_run.get("executionCounts", {}).get("total", 0))
        except (ClientError, BotoCoreError) as exc:
            notes.append(f"Map Run {run.map_run_arn}: not readable ({exc})")
            continue
        total_ms = 0.0
        try:
            for page in sfn.get_paginator("list_executions").paginate(mapRunArn=run.map_run_arn):
                for child in page.get("executions", []):
                    if child.get("startDate") and child.get("stopDate"):
                        delta = child["stopDate"] - child["startDate"]
                        total_ms += delta.total_seconds() * 1000
        except Exception as exc:  # durations are optional: a note, not a failed fetch
            notes.append(f"child executions of {run.map_run_arn} not listed ({exc!r})")
        distributed = {
            "child_executions": children,
            "child_state_transitions": None,
            "child_duration_ms_total": total_ms,
            "execution_type": _child_execution_type(history.definition, run.name),
        }
        # CrawlBatch runs inside the children: one invocation per child, as long as the child.
        crawl = functions.setdefault("CrawlBatch", _assumed_function())
        crawl["invocations"] += children
        crawl["duration_ms_total"] += total_ms
    stop = described.get("stopDate")
    return {
        "run_id": described.get("name"),
        "execution_arn": described.get("executionArn"),
        "state_machine_arn": described.get("stateMachineArn"),
        "status": described.get("status"),
        "start_date": described.get("startDate"),
        "stop_date": stop,
        "mode": "distributed" if distributed else "inline",
        "functions": functions,
        "distributed": distributed,
        "store_writes": None,
        "s3_requests": {"get": 0, "put": 0},
        "source": "aws",
        "notes": notes,
    }


# ---------------------------------------------------------------- commands


def _jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


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
                "iterations": [
                    {
                        "index": it.index,
                        "outcome": it.outcome,
                        "status": it.status,
                        "batch_id": it.batch_id,
                        "pages": list(it.pages),
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
                    for it in m.iterations
                ],
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
    return _jsonable(doc)


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
    print(format_history(run.history, show_iterations=None if args.all else 20))
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
    from crawlmap.cost import CostError, estimate_run, format_cost, format_scaling

    run = open_run(args.run)
    if args.pages is not None and args.pages <= 0:
        raise InspectError(f"--pages: must be a positive number, got {args.pages}")
    try:
        breakdown = estimate_run(run, pages=args.pages)
    except CostError as exc:
        raise InspectError(f"RUN {args.run!r}: {exc}") from None
    if args.json:
        print(json.dumps(_jsonable(breakdown.to_json()), indent=1))
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
