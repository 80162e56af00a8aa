"""The one reader of run folders: files in, typed documents out, one message per problem.

It does not parse the history (crawlmap.history does); it finds and decodes the files and
checks meta.json against RunMeta, so history, report and cost read the same thing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from crawlmap.runfolder import schema
from crawlmap.runfolder.schema import PageResult, RunMeta


class RunFolderError(ValueError):
    """A run folder (or one of its files) cannot be read. The message names the file."""


@dataclass(frozen=True)
class RunFiles:
    """What a run folder (or a lone history.json) holds. Only `history` is required."""

    path: Path  # the folder
    history: Any  # history.json's document, not parsed
    meta: RunMeta | Mapping[str, Any]  # {} when there is no meta.json
    results: tuple[PageResult, ...] = ()
    definition: Mapping[str, Any] | None = None
    history_path: Path | None = field(default=None, compare=False)

    def child_history_paths(self) -> list[Path]:
        """The child executions' histories the engine kept (children/*.json), in name order."""
        distributed = self.meta.get("distributed")
        relative = distributed.get("child_histories") if isinstance(distributed, Mapping) else None
        folder = self.path / (relative if isinstance(relative, str) else schema.CHILDREN)
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.glob("*.json") if p.is_file())

    def child_histories(self) -> Iterator[tuple[str, Any]]:
        """(child name, its history document) for each kept child execution."""
        for path in self.child_history_paths():
            yield path.stem, _read_json(path, f"{schema.CHILDREN}/{path.name}")


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RunFolderError(f"{what}: cannot read {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise RunFolderError(f"{what}: {path} is not valid JSON ({exc})") from None


def read_results(path: Path) -> tuple[PageResult, ...]:
    return tuple(iter_results(path))


def iter_results(path: Path) -> Iterator[PageResult]:
    """results.jsonl one page result at a time (a million-page run's do not fit in memory)."""
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                except (ValueError, RecursionError):
                    raise RunFolderError(
                        f"{schema.RESULTS} line {number}: not valid JSON ({path})"
                    ) from None
                if isinstance(item, Mapping):
                    yield cast(PageResult, item)
    except OSError as exc:
        raise RunFolderError(
            f"{schema.RESULTS}: cannot read {path}: {exc.strerror or exc}"
        ) from None
    except UnicodeDecodeError as exc:
        raise RunFolderError(f"{schema.RESULTS}: {path} is not UTF-8 ({exc.reason})") from None


def normalize_meta(raw: Any, *, where: str = schema.META) -> RunMeta | Mapping[str, Any]:
    """meta.json as RunMeta: checks the shapes readers rely on and upgrades older folders
    (`engine_notes` became `notes`; a folder without `source` was written by the engine)."""
    if not isinstance(raw, Mapping):
        raise RunFolderError(f"{where}: expected a JSON object")
    meta = dict(raw)
    if "engine_notes" in meta:
        legacy = meta.pop("engine_notes")
        meta.setdefault("notes", legacy)
    notes = meta.get("notes", [])
    if not isinstance(notes, list):
        raise RunFolderError(f"{where} notes: expected a list of strings")
    meta["notes"] = [str(n) for n in notes]
    meta.setdefault("source", "local")
    for key in ("functions", "s3_requests"):
        if key in meta and meta[key] is not None and not isinstance(meta[key], Mapping):
            raise RunFolderError(f"{where} {key}: expected an object")
    distributed = meta.get("distributed")
    if distributed is not None and not isinstance(distributed, Mapping):
        raise RunFolderError(f"{where} distributed: expected an object or null")
    return cast(RunMeta, meta)


def read_meta(path: Path) -> RunMeta | Mapping[str, Any]:
    """A folder's meta.json ({} when it has none)."""
    meta_path = path / schema.META if path.is_dir() else path
    if not meta_path.is_file():
        return {}
    return normalize_meta(_read_json(meta_path, schema.META))


def read_run(path: Path) -> RunFiles:
    """Read a run folder (history.json + optional meta.json, results.jsonl, definition.json)
    or a lone history file (then no sidecar files: they belong to a folder's history.json)."""
    if path.is_dir():
        folder = path
        history_path = path / schema.HISTORY
        if not history_path.is_file():
            status = _status_hint(path)
            raise RunFolderError(f"{path}: no {schema.HISTORY} in this folder{status}")
    elif path.is_file():
        folder = path.parent
        history_path = path
    else:
        raise RunFolderError(f"{path}: no such run folder or history file")
    doc = _read_json(history_path, "history")
    meta: RunMeta | Mapping[str, Any] = {}
    results: tuple[PageResult, ...] = ()
    definition: Mapping[str, Any] | None = None
    if history_path.name == schema.HISTORY:
        meta = read_meta(folder)
        if (folder / schema.RESULTS).is_file():
            results = read_results(folder / schema.RESULTS)
        if (folder / schema.DEFINITION).is_file():
            loaded = _read_json(folder / schema.DEFINITION, schema.DEFINITION)
            definition = loaded if isinstance(loaded, Mapping) else None
    if definition is None and isinstance(meta.get("definition"), Mapping):
        definition = meta["definition"]  # type: ignore[typeddict-item]
    if (
        definition is None
        and isinstance(doc, Mapping)
        and isinstance(doc.get("definition"), Mapping)
    ):
        definition = doc["definition"]
    return RunFiles(
        path=folder,
        history=doc,
        meta=meta,
        results=results,
        definition=definition,
        history_path=history_path,
    )


def _status_hint(folder: Path) -> str:
    """Why a folder has no history yet, from its meta.json when that says."""
    try:
        meta = read_meta(folder)
    except RunFolderError:
        return ""
    status = meta.get("status")
    if status == "RUNNING":
        return " (the run is still going, or it was stopped before its first event was saved)"
    if not meta:
        return " (not a run folder, or the run was stopped before it started)"
    return ""


def is_run_folder(path: Path) -> bool:
    return path.is_dir() and ((path / schema.HISTORY).is_file() or (path / schema.META).is_file())
