"""The run the patched interpreter calls back into (one at a time), and what it records.

Checked against moto 5.2.5. Every patch reads the active run through `current()`; with no run
active each falls back to moto's own code, so moto keeps working in this process after an
engine run (tests, notebooks).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crawlmap.engine.moto_patches.children import ChildExecution
from crawlmap.engine.moto_patches.gaps.tolerated_failures import FailureThreshold
from crawlmap.engine.throttle import ConcurrencyLimits

InvokeLambda = Callable[[dict[str, Any]], dict[str, Any]]
# Called as each distributed child ends, with the child's file name (<Map label>_<index>):
# the engine saves its history then, so no child's events stay in memory.
ChildFinished = Callable[[str, ChildExecution], None]


@dataclass
class MapRunStats:
    """One distributed Map Run: its children (each once it ended) and its failure threshold."""

    map_run_arn: str
    children: list[ChildExecution] = field(default_factory=list)
    state_transitions: int = 0
    threshold: FailureThreshold | None = None
    failed: int = 0  # children FAILED or TIMED_OUT: what the threshold counts
    exceeded: bool = False  # the threshold was crossed: the Map Run fails
    not_started: int = 0  # items whose child never started because the Map Run was failing
    running: dict[int, Any] = field(default_factory=dict)  # job index -> its child's frame

    @property
    def label(self) -> str:
        """The Map state's label: ...:mapRun:<machine>/<label>:<id>."""
        return self.map_run_arn.rsplit("/", 1)[-1].split(":", 1)[0] or "Map"


@dataclass
class ActiveRun:
    """What the patched interpreter calls back into while one execution runs."""

    invoke_lambda: InvokeLambda
    time_scale: float = 1.0
    concurrency: ConcurrencyLimits | None = None  # Lambda's limits (throttle.py); None: none
    # Where running children's events wait until the child ends (None: in memory).
    spool_dir: Path | None = None
    on_child_finished: ChildFinished | None = None
    map_runs: dict[str, MapRunStats] = field(default_factory=dict)
    s3_requests: dict[str, int] = field(default_factory=lambda: {"get": 0, "put": 0})
    lock: threading.Lock = field(default_factory=threading.Lock)
    s3_clients: dict[str, Any] = field(default_factory=dict)  # region -> boto3 S3 client

    def map_run(self, arn: str) -> MapRunStats:
        with self.lock:
            return self.map_runs.setdefault(arn, MapRunStats(arn))


_active: ActiveRun | None = None


def activate(run: ActiveRun | None) -> None:
    """Route the interpreter's hooks to `run` (None: no run is active)."""
    global _active
    _active = run


def current() -> ActiveRun | None:
    return _active


# The distributed child the current thread works for (set by map_run, inherited by the
# threads moto starts for it: gaps/child_histories.py).
job = threading.local()


def current_child() -> ChildExecution | None:
    return getattr(job, "child", None)
