"""The acceptance suite: the installed `crawlmap` CLI as a user runs it, against our own site.

Every test runs `crawlmap` as a subprocess in a scratch folder with its own CRAWLMAP_HOME and
SQLite store, against tests/acceptance/site.py on 127.0.0.1 (not crawlmap's demo site), and
asserts what the user sees: exit codes, stdout/stderr, the --output lines, the run folder.
Nothing is mocked: moto runs the synthesized state machine inside crawlmap itself, as always.

The synthesized template is cached per home; one warm-up run per session fills a cache that
each test's home starts from, so only the first run pays for `cdk synth` (jsii, ~10 s).
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.site import Site

CLI_TIMEOUT_S = 180


def crawlmap_executable() -> list[str]:
    installed = Path(sys.executable).with_name("crawlmap")
    return [str(installed)] if installed.exists() else [sys.executable, "-m", "crawlmap.cli"]


@dataclass(frozen=True)
class Done:
    """A finished `crawlmap` command."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@dataclass
class Workspace:
    """A scratch folder (the cwd) with its own crawlmap home; the per-user cache (templates)
    is shared by the session's workspaces, as one user's folders share it."""

    path: Path
    cache_home: Path | None = None  # XDG_CACHE_HOME

    @property
    def home(self) -> Path:
        return self.path / "home"

    def crawlmap(self, *args: str, wrapper: tuple[str, ...] = ()) -> Done:
        env = {
            **os.environ,
            "CRAWLMAP_HOME": str(self.home),
            **({"XDG_CACHE_HOME": str(self.cache_home)} if self.cache_home else {}),
            "COLUMNS": "200",
            "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        }
        done = subprocess.run(
            [*wrapper, *crawlmap_executable(), *args],
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
            cwd=self.path,
            env=env,
            check=False,
        )
        return Done(tuple(args), done.returncode, done.stdout, done.stderr)

    def run(self, *args: str, db: str = "store.db", wrapper: tuple[str, ...] = ()) -> Done:
        """`crawlmap run` on our loopback site, with a store of this workspace."""
        return self.crawlmap(
            "run", "--allow-private-networks", "--fast-retries", "--db", db, *args, wrapper=wrapper
        )

    def lines(self, name: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in (self.path / name).read_text().splitlines()]

    def run_dir(self, run_id: str) -> Path:
        return self.home / "runs" / run_id


@pytest.fixture(scope="session")
def site() -> Iterator[Site]:
    with Site() as served:
        yield served


@pytest.fixture(scope="session")
def template_cache(tmp_path_factory: pytest.TempPathFactory, site: Site) -> Path:
    """An XDG cache home holding the synthesized template (one real `crawlmap run` made it).

    Under pytest-xdist the workers share one basetemp parent: the first worker synthesizes,
    the others wait on a lock and reuse its cache (a synth costs ~10 s of CPU).
    """
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    cache_home = shared / "acceptance-cache"
    warm = Workspace(shared / "acceptance-warm-up", cache_home)
    cache = cache_home / "crawlmap"
    with (shared / "acceptance-warm-up.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not any(cache.glob("template-*.json")):
            warm.path.mkdir(exist_ok=True)
            done = warm.crawlmap("run", "--quiet", "--db", "warm.db", site.url("/page/warm-up"))
            assert done.returncode == 1, done.stderr  # refused: no --allow-private-networks
            assert any(cache.glob("template-*.json")), done.stderr
    return cache_home


def new_workspace(path: Path, template_cache: Path) -> Workspace:
    return Workspace(path, template_cache)


@pytest.fixture
def workspace(tmp_path: Path, template_cache: Path) -> Workspace:
    return new_workspace(tmp_path, template_cache)


@pytest.fixture
def unique() -> str:
    """A name no other test uses, so the site's per-path counters are this test's alone."""
    return uuid.uuid4().hex[:10]
