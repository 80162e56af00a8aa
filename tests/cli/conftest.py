"""Fixtures for the CLI tests: the synthesized template (once per session), a crawlmap home
per test, and a loopback site that records what reached it.

The site answers every path with a small HTML page after `delay` seconds (`/slow/...` after
`slow_delay`), and records, per Host header, the request start times and the most requests
in flight at once: what a per-host limit is about.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def template_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stack's template, synthesized once per session (jsii takes seconds)."""
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    from stacks.synth import synth_template

    path = tmp_path_factory.mktemp("template") / "Crawlmap.template.json"
    path.write_text(json.dumps(synth_template()))
    return path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's CRAWLMAP_HOME (run folders and the default store)."""
    path = tmp_path / "home"
    monkeypatch.setenv("CRAWLMAP_HOME", str(path))
    monkeypatch.chdir(tmp_path)
    return path


@dataclass
class HostLog:
    starts: list[float] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0


class RecordingSite:
    """A ThreadingHTTPServer on 127.0.0.1 that records requests per Host header."""

    def __init__(self, delay: float = 0.0, slow_delay: float = 5.0) -> None:
        self.delay = delay
        self.slow_delay = slow_delay
        self.hosts: dict[str, HostLog] = {}
        self.lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host = self.headers.get("Host", "")
                if self.path == "/robots.txt":  # not a page: neither counted nor delayed
                    self.send_error(404)
                    return
                with site.lock:
                    log = site.hosts.setdefault(host, HostLog())
                    log.starts.append(time.monotonic())
                    log.in_flight += 1
                    log.max_in_flight = max(log.max_in_flight, log.in_flight)
                try:
                    time.sleep(site.slow_delay if self.path.startswith("/slow/") else site.delay)
                    body = f"<html><title>{self.path}</title><h1>{self.path}</h1></html>".encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                except OSError:
                    return  # the crawler went away (a killed run)
                finally:
                    # Out of flight before the body goes: the crawler cannot have its response
                    # (and start the next request) while this one still counts.
                    with site.lock:
                        log.in_flight -= 1
                with contextlib.suppress(OSError):  # the crawler went away (a killed run)
                    self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return self.base + path

    def log(self) -> HostLog:
        """The log of this site's one host (page requests: robots.txt is not counted)."""
        with self.lock:
            return self.hosts.get(self.base.removeprefix("http://"), HostLog())

    def __enter__(self) -> RecordingSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recording_site() -> Iterator[RecordingSite]:
    with RecordingSite(delay=0.05) as site:
        yield site


def crawlmap_command() -> list[str]:
    installed = Path(sys.executable).with_name("crawlmap")
    return [str(installed)] if installed.exists() else [sys.executable, "-m", "crawlmap.cli"]


def run_crawlmap(cwd: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`crawlmap ARGS` as a subprocess with CRAWLMAP_HOME=<cwd>/home."""
    return subprocess.run(
        [*crawlmap_command(), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={**os.environ, "CRAWLMAP_HOME": str(cwd / "home"), "COLUMNS": "200"},
        check=False,
    )


def exit_code(argv: list[str]) -> int:
    """main(argv)'s exit code, whether it returns it or argparse exits with it."""
    from crawlmap.cli import main

    try:
        return main(argv)
    except SystemExit as exited:
        return int(exited.code or 0)
