"""What the engine asks of the application whose state machine it runs.

The engine (template, resources, adapter, runner) knows Step Functions, Lambda and S3 as moto
stands in for them, and nothing of crawlmap. An application adds what only it knows through
these hooks: the local stand-ins for its other resources (crawlmap: the DynamoDB table as
SQLite, the SNS topic as a file), how its input is staged, what it counts per invocation, what
its run summary is, and what it writes to the run folder besides the history.
crawlmap's own hooks are crawlmap/crawl_hooks.py; `NoHooks` runs any template as it is
(tests/workflow/tiny_handlers.py).

One `EngineHooks` serves many runs (`crawlmap serve` keeps one); `start` gives each run its
own `RunHooks`, which may keep per-run state (counters) and is called from the interpreter's
threads (on_invocation) as well as the runner's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from crawlmap.engine.adapter import Invocation
from crawlmap.engine.resources import LocalResources
from crawlmap.runfolder import RunFolderWriter


@dataclass(frozen=True)
class RunContext:
    """One run as the hooks see it when it starts."""

    run_id: str
    home: Path  # the engine's home: runs/ lives here (and crawlmap's store, by default)
    writer: RunFolderWriter  # the run folder (already created)
    resources: LocalResources
    definition: Mapping[str, Any]  # as moto runs it
    notes: list[str] = field(default_factory=list)  # meta.json "notes": hooks may append


@dataclass(frozen=True)
class RunOutcome:
    """What the hooks add to the saved run."""

    summary: dict[str, Any] | None = None  # the application's own account of the run
    meta: Mapping[str, Any] = field(default_factory=dict)  # extra meta.json keys


class RunHooks(Protocol):
    def environment(self) -> Mapping[str, str]:
        """Variables every function sees locally, over the template's own: the stand-ins for
        the resources the engine does not run (a table, a topic)."""
        ...

    def session(self) -> AbstractContextManager[None]:
        """Entered once the run's handlers are loaded (a fresh container), left when the run
        ends: the place to instrument the handlers' own modules."""
        ...

    def stage_input(
        self, execution_input: Mapping[str, Any], variables: Mapping[str, str]
    ) -> Mapping[str, Any]:
        """The execution input as started (inside the mock: moto's S3 is there), given the
        functions' environment (`variables`); e.g. a long list moved to S3."""
        ...

    def on_invocation(self, invocation: Invocation) -> None:
        """After each Lambda invocation returned or failed (from the interpreter's threads)."""
        ...

    def finished(self) -> None:
        """The execution is over, however it ended (also when interrupted)."""
        ...

    def save(
        self, writer: RunFolderWriter, output: Any, events: Sequence[Mapping[str, Any]]
    ) -> RunOutcome:
        """Write the application's files into the run folder; its summary and meta keys."""
        ...


class EngineHooks(Protocol):
    def start(self, run: RunContext) -> RunHooks: ...


class NoRunHooks:
    """Runs a template as it is: nothing staged, counted or written beyond the engine's own."""

    def environment(self) -> Mapping[str, str]:
        return {}

    def session(self) -> AbstractContextManager[None]:
        return contextlib.nullcontext()

    def stage_input(
        self, execution_input: Mapping[str, Any], variables: Mapping[str, str]
    ) -> Mapping[str, Any]:
        return execution_input

    def on_invocation(self, invocation: Invocation) -> None:
        return None

    def finished(self) -> None:
        return None

    def save(
        self, writer: RunFolderWriter, output: Any, events: Sequence[Mapping[str, Any]]
    ) -> RunOutcome:
        return RunOutcome(summary=output if isinstance(output, dict) else None)


class NoHooks:
    def start(self, run: RunContext) -> RunHooks:
        return NoRunHooks()
