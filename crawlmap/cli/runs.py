"""`crawlmap runs`: the past local runs, newest first (the store's and the run folders')."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from crawlmap.cli.arguments import DB_HELP, int_in
from crawlmap.cli.store import check_store, store_errors
from crawlmap.runfolder import RunFolderError, is_run_folder, read_meta, runs_dir


def add_runs_command(commands: Any) -> None:
    runs = commands.add_parser("runs", help="list past local runs, newest first")
    runs.add_argument("--db", metavar="PATH", help=DB_HELP)
    runs.add_argument("--limit", type=int_in(1, 1000), default=20, metavar="N")
    runs.add_argument("--json", action="store_true", help="print the runs as a JSON array")
    runs.set_defaults(func=cmd_runs)


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
