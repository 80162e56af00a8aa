"""Load a run folder (through crawlmap.runfolder's reader) with its history parsed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crawlmap.history.model import ExecutionHistory, HistoryError, MapIteration
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
    # A distributed Map's child executions the engine kept (children/*.json): (name, history)
    children: tuple[tuple[str, ExecutionHistory], ...] = field(default=(), compare=False)

    def batch_iterations(self) -> tuple[tuple[MapIteration, ExecutionHistory], ...]:
        """Every batch's Map iteration with the history it is in: the parent's (inline,
        nested lanes included) and each kept child execution's (distributed)."""
        found = [(it, self.history) for it in self.history.batch_iterations]
        for _, child in self.children:
            found.extend((it, child) for it in child.batch_iterations)
        return tuple(found)


def load_run(path: Path) -> RunFolder:
    """Load a run folder (history.json + optional meta.json, results.jsonl, definition.json)
    or a lone history.json file."""
    try:
        files = read_run(path)
    except RunFolderError as exc:
        raise HistoryError(str(exc)) from None
    history = parse_history(files.history, meta=files.meta, definition=files.definition)
    children: list[tuple[str, ExecutionHistory]] = []
    try:
        for name, doc in files.child_histories():
            try:
                children.append((name, parse_history(doc)))
            except HistoryError as exc:
                raise HistoryError(f"children/{name}.json: {exc}") from None
    except RunFolderError as exc:
        raise HistoryError(str(exc)) from None
    return RunFolder(
        path=files.path,
        history=history,
        meta=files.meta,
        results=files.results,
        files=files,
        children=tuple(children),
    )


def load_history(path: Path) -> ExecutionHistory:
    return load_run(path).history
