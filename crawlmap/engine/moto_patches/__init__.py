"""The engine's patches to moto's Step Functions interpreter, one per module.

moto is pinned exactly (pyproject.toml) because these patches reach into its internals; each
module says which moto version it was checked against (MOTO_VERSION; a test holds the pin to
it). gaps/ makes the interpreter behave as AWS does where it does not (numbered 1-11 as in the
README's table; each has tests in tests/workflow/), speed/ makes it cheaper without changing
what it does (gap 7), and the rest records what the engine reports: the active run
(active.py), the distributed children (children.py, map_run.py), the S3 requests
(s3_requests.py).
"""

from __future__ import annotations

import threading

from crawlmap.engine.moto_patches import map_run, s3_requests
from crawlmap.engine.moto_patches.active import (
    ActiveRun,
    ChildFinished,
    MapRunStats,
    activate,
    current,
)
from crawlmap.engine.moto_patches.children import ChildExecution
from crawlmap.engine.moto_patches.gaps import (
    child_histories,
    iteration_loops,
    lambda_invoke,
    result_writer,
    scaled_waits,
    timestamps,
    tolerated_failures,
)
from crawlmap.engine.moto_patches.gaps.parse_rewrites import normalize_definition
from crawlmap.engine.moto_patches.gaps.tolerated_failures import (
    EXCEEDED_THRESHOLD_CAUSE,
    FailureThreshold,
)
from crawlmap.engine.moto_patches.speed import (
    backend_lookup,
    closed_jobs,
    item_selector,
    json_copies,
    json_paths,
    s3_bodies,
    s3_clients,
    s3_keys,
    state_threads,
)
from crawlmap.engine.moto_patches.speed.json_copies import json_copy

__all__ = [
    "EXCEEDED_THRESHOLD_CAUSE",
    "MOTO_VERSION",
    "ActiveRun",
    "ChildExecution",
    "ChildFinished",
    "FailureThreshold",
    "MapRunStats",
    "activate",
    "current",
    "install",
    "json_copy",
    "normalize_definition",
]

MOTO_VERSION = "5.2.5"

_PATCHES = (
    lambda_invoke,
    scaled_waits,
    json_paths,
    item_selector,
    closed_jobs,
    map_run,
    tolerated_failures,
    child_histories,
    result_writer,
    s3_requests,
    timestamps,
    json_copies,
    s3_clients,
    backend_lookup,
    s3_bodies,
    s3_keys,
    state_threads,
    iteration_loops,
)
_install_lock = threading.Lock()
_installed = False


def install() -> None:
    """Patch moto's interpreter once per process (idempotent)."""
    global _installed
    with _install_lock:
        if not _installed:
            for patch in _PATCHES:
                patch.install()
            _installed = True
