"""The one writer of run folders (the local engine and `history --arn` both use it)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from crawlmap.runfolder import schema
from crawlmap.runfolder.home import runs_dir
from crawlmap.runfolder.jsonio import write_json, write_json_rows, write_jsonl
from crawlmap.runfolder.schema import PageResult, RunMeta

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class RunFolderWriter:
    """Writes one run folder's files. Every JSON file is replaced atomically, so a reader
    (`crawlmap history latest` while a run goes on, or after it was killed) sees either the
    previous version or the new one, never half a file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(
        cls, run_id: str, *, home: Path | None = None, exist_ok: bool = False
    ) -> RunFolderWriter:
        """A new folder `<home>/runs/<run_id>/` (FileExistsError if it exists and not exist_ok)."""
        path = runs_dir(home) / run_id
        path.mkdir(parents=True, exist_ok=exist_ok)
        return cls(path)

    @property
    def logs_path(self) -> Path:
        return self.path / schema.LOGS

    @property
    def notifications_path(self) -> Path:
        """Where the local notifier appends messages during the run (read_notification)."""
        return self.path / schema.NOTIFICATIONS_RAW

    def write_meta(self, meta: RunMeta) -> None:
        """meta.json: write it at the start (status RUNNING) and again at the end."""
        write_json(self.path / schema.META, meta)

    def write_input(self, execution_input: Any) -> None:
        write_json(self.path / schema.INPUT, execution_input)

    def write_history(self, events: Sequence[Mapping[str, Any]]) -> None:
        """history.json with the events so far (call it during the run too: a partial one)."""
        write_json(self.path / schema.HISTORY, {"events": list(events)})

    @property
    def spool_path(self) -> Path:
        """.spool/, where the engine keeps what a run writes as it goes and removes at its end
        (running children's events): made when first needed."""
        return self.path / schema.SPOOL

    def write_child_history(self, name: str, events: Iterable[Mapping[str, Any]]) -> str:
        """children/<name>.json, one child execution's history; returns its relative path.

        `name` is the child's execution name (e.g. its Map Run label and index); characters
        a file name cannot hold become '_'."""
        folder = self.path / schema.CHILDREN
        folder.mkdir(exist_ok=True)
        file_name = _UNSAFE.sub("_", name).strip("._") or "child"
        write_json_rows(folder / f"{file_name}.json", "events", events)
        return f"{schema.CHILDREN}/{file_name}.json"

    def write_output(self, output: Any) -> None:
        write_json(self.path / schema.OUTPUT, output)

    def write_results(self, results: Iterable[PageResult | Mapping[str, Any]]) -> int:
        return write_jsonl(self.path / schema.RESULTS, results)

    def write_notification(self, notification: Mapping[str, Any]) -> None:
        write_json(self.path / schema.NOTIFICATION, notification)

    def write_definition(self, definition: Mapping[str, Any]) -> None:
        write_json(self.path / schema.DEFINITION, definition)
