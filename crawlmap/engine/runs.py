"""The local run folder: `<home>/runs/<run_id>/` (the contract is in helpers' BRIEF and README).

history.json   {"events": [...]} in the GetExecutionHistory response format
input.json     the execution input;  output.json  the execution output (absent if it failed)
meta.json      run id, ARNs, status, dates, mode, per-function invocations and durations,
               distributed child statistics, store writes, S3 requests
results.jsonl  one PageResult per page
notification.json  the message StoreAndNotify would publish ({"subject", "message"})
logs.txt       what the functions logged (Lambda's CloudWatch logs, locally)
"""

from __future__ import annotations

import datetime
import json
import os
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

HOME_ENV = "CRAWLMAP_HOME"


def crawlmap_home() -> Path:
    """`.crawlmap/` in the current directory, or $CRAWLMAP_HOME."""
    return Path(os.environ.get(HOME_ENV) or ".crawlmap")


def runs_dir(home: Path | None = None) -> Path:
    return (home or crawlmap_home()) / "runs"


def new_run_id(now: datetime.datetime | None = None) -> str:
    """A valid, sortable execution name: 'run-20261126T193000Z-1a2b3c'."""
    moment = now or datetime.datetime.now(tz=datetime.UTC)
    return f"run-{moment.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


def iso(value: Any) -> Any:
    """JSON-friendly: datetimes as ISO 8601 strings (UTC, 'Z'), anything else unchanged."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.UTC)
        return (
            value.astimezone(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        )
    if isinstance(value, dict):
        return {k: iso(v) for k, v in value.items()}
    if isinstance(value, list):
        return [iso(v) for v in value]
    return value


def write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(iso(data), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(iso(dict(row)), ensure_ascii=False) + "\n")
            count += 1
    return count


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
