"""Load a run folder (through crawlmap.runfolder's reader) with its history parsed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crawlmap.history.model import ExecutionHistory, HistoryError
from crawlmap.history.parse import parse_history
from crawlmap.runfolder import RunFiles, RunFolderError, read_run


@dataclass(frozen=True)
class RunFolder:
    """A run folder (or a lone history.json) with its history parsed. See crawlmap.runfolder."""

    path: Path
    history: ExecutionHistory
    meta: Mapping[str, Any]  # RunMeta (crawlmap.runfolder.schema), {} when absent
    results: tuple[Mapping[str, Any], ...]  # PageResult per line of results.jsonl
    files: RunFiles | None = field(default=None, compare=False, repr=False)


def load_run(path: Path) -> RunFolder:
    """Load a run folder (history.json + optional meta.json, results.jsonl, definition.json)
    or a lone history.json file."""
    try:
        files = read_run(path)
    except RunFolderError as exc:
        raise HistoryError(str(exc)) from None
    history = parse_history(files.history, meta=files.meta, definition=files.definition)
    return RunFolder(
        path=files.path, history=history, meta=files.meta, results=files.results, files=files
    )


def load_history(path: Path) -> ExecutionHistory:
    return load_run(path).history
