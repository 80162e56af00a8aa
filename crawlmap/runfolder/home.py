"""Where crawlmap keeps things: the home (run folders and the store) and the per-user cache.

home   $CRAWLMAP_HOME, else `.crawlmap/` in the current directory: runs/ and crawlmap.db
       together, so moving one moves both (`crawlmap --home DIR` sets it for one command).
cache  $XDG_CACHE_HOME/crawlmap (default ~/.cache/crawlmap): synthesized templates, keyed by
       the app's sources, so a run from any folder reuses them.
"""

from __future__ import annotations

import datetime
import os
import secrets
from pathlib import Path

HOME_ENV = "CRAWLMAP_HOME"
CACHE_ENV = "XDG_CACHE_HOME"
DEFAULT_HOME = ".crawlmap"
DATABASE = "crawlmap.db"


def crawlmap_home() -> Path:
    return Path(os.environ.get(HOME_ENV) or DEFAULT_HOME)


def runs_dir(home: Path | None = None) -> Path:
    return (home or crawlmap_home()) / "runs"


def default_database(home: Path | None = None) -> Path:
    return (home or crawlmap_home()) / DATABASE


def cache_dir() -> Path:
    """The per-user cache (XDG Base Directory): $XDG_CACHE_HOME/crawlmap or ~/.cache/crawlmap."""
    base = os.environ.get(CACHE_ENV)
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".cache"
    return root / "crawlmap"


def new_run_id(now: datetime.datetime | None = None) -> str:
    """A valid, sortable execution name: 'run-20261126T193000Z-1a2b3c'."""
    moment = now or datetime.datetime.now(tz=datetime.UTC)
    return f"run-{moment.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"
