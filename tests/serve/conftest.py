"""Fixtures for `crawlmap serve`: the synthesized template, a site on 127.0.0.1, and the server
as a subprocess on free loopback ports, driven with the real AWS CLI (awscli from PyPI)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from crawlmap.demo import DemoSite

REPO = Path(__file__).resolve().parents[2]
MOCK_CONFIG = REPO / "tests" / "mocks" / "MockConfigFile.json"
STARTUP_S = 120.0
# Credentials and region as any Step Functions Local user sets them; no profile, no IMDS.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
    "NO_PROXY": "127.0.0.1,localhost",
}


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    from stacks.synth import synth_template

    return synth_template()


@pytest.fixture(scope="session")
def template_file(template: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "Crawlmap.template.json"
    path.write_text(json.dumps(template))
    return path


@pytest.fixture(scope="session")
def site() -> Iterator[DemoSite]:
    with DemoSite() as demo:
        yield demo


@dataclass
class Served:
    endpoint: str
    state_machine_arn: str
    lambda_endpoint: str
    home: Path
    process: subprocess.Popen[str]

    def execution_arn(self, name: str) -> str:
        return self.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"


def subprocess_env(home: Path) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment.update(AWS_ENV)
    environment.update(CRAWLMAP_HOME=str(home), PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    return environment


@pytest.fixture(scope="module")
def served(template_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`crawlmap serve --port 0 --lambda-port 0` with the shipped MockConfigFile."""
    home = tmp_path_factory.mktemp("serve-home")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "crawlmap.cli", "serve", "--port", "0", "--lambda-port", "0",
            "--template", str(template_file), "--mock-config", str(MOCK_CONFIG),
            "--fast-retries", "--allow-private-networks",
        ],
        cwd=home,
        env=subprocess_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    found: dict[str, str] = {}
    assert process.stdout is not None
    stdout = process.stdout

    def read_banner() -> None:
        for line in stdout:
            label, _, value = line.partition(": ")
            found[label] = value.split()[0] if value.split() else ""
            if label == "Lambda endpoint":
                return

    reader = threading.Thread(target=read_banner, daemon=True)
    reader.start()
    reader.join(STARTUP_S)
    try:
        assert "Lambda endpoint" in found, f"serve did not start: {found}, rc={process.poll()}"
        yield Served(
            endpoint=found["Step Functions API"],
            state_machine_arn=found["state machine"],
            lambda_endpoint=found["Lambda endpoint"],
            home=home,
            process=process,
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def aws(served: Served, *args: str, check: bool = True) -> Any:
    """The AWS CLI against the served endpoint; its JSON output parsed (stderr on failure)."""
    completed = subprocess.run(
        [sys.executable, "-m", "awscli", "stepfunctions", "--endpoint-url", served.endpoint,
         "--output", "json", *args],
        env=subprocess_env(served.home),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip
    if not check:
        return completed
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout) if completed.stdout.strip() else None


def wait_done(served: Served, execution_arn: str, timeout_s: float = 90.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        described: dict[str, Any] = aws(
            served, "describe-execution", "--execution-arn", execution_arn
        )
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            return described
        time.sleep(0.3)


def entered(events: list[dict[str, Any]]) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
    ]


def in_order(wanted: list[str], seen: list[str]) -> bool:
    """`wanted` is a subsequence of `seen` (states in between allowed: the lanes graph nests
    CrawlLane between CrawlPages and CrawlBatch)."""
    remaining = iter(seen)
    return all(any(name == s for s in remaining) for name in wanted)
