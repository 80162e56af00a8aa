"""JSON as the run folder stores it: the one normaliser, and atomic UTF-8 writes."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

# A lone surrogate (from a page's bytes) cannot be UTF-8; inside a JSON string, Python's
# backslash escape of it is JSON's own \uXXXX escape, so the file stays valid JSON.
_LONE_SURROGATES = "backslashreplace"


def iso_time(value: datetime.datetime) -> str:
    """ISO 8601 in UTC with milliseconds and 'Z', as the console and the API show times."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    return value.astimezone(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def plain(value: Any) -> Any:
    """JSON-ready data: datetimes as iso_time, enums as their values, dataclasses as objects,
    tuples as lists, non-finite floats as null; anything else unchanged."""
    if isinstance(value, datetime.datetime):
        return iso_time(value)
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: Path, data: Any) -> None:
    """Write atomically (a reader never sees half a file, even while the run goes on)."""
    tmp = path.with_name(path.name + ".tmp")
    text = json.dumps(plain(data), indent=1, ensure_ascii=False) + "\n"
    tmp.write_text(text, encoding="utf-8", errors=_LONE_SURROGATES)
    tmp.replace(path)


def write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> int:
    count = 0
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8", errors=_LONE_SURROGATES) as out:
        for row in rows:
            out.write(json.dumps(plain(row), ensure_ascii=False) + "\n")
            count += 1
    tmp.replace(path)
    return count


def write_json_rows(path: Path, key: str, rows: Iterable[Any]) -> int:
    """`{key: [rows...]}` written one row at a time (the rows are never all in memory)."""
    count = 0
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8", errors=_LONE_SURROGATES) as out:
        out.write("{" + json.dumps(key) + ": [")
        for row in rows:
            out.write(",\n " if count else "\n ")
            out.write(json.dumps(plain(row), ensure_ascii=False))
            count += 1
        out.write("\n]}\n")
    tmp.replace(path)
    return count


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
