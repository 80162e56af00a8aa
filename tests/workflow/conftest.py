"""Fixtures for the workflow tests: the real synthesized template, a real site on 127.0.0.1.

moto stands in for AWS Step Functions and S3 (see crawlmap/engine); the handlers are the real
ones, the store is a real SQLite file per test, the site is a real HTTP server.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from crawlmap.crawl_hooks import STAGE_INPUT_OVER, CrawlHooks
from crawlmap.demo import DemoSite
from crawlmap.engine.runner import EngineOptions, RunRecord, run_execution
from lambdas.common import env

Crawl = Callable[..., RunRecord]


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    """The stack's template, synthesized once per session (jsii takes seconds)."""
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
    with DemoSite(slow_seconds=0.2) as demo:
        yield demo


def _crawler(template: dict[str, Any], home: Path) -> Crawl:
    def run(
        execution_input: Mapping[str, Any],
        *,
        env_overrides: Mapping[str, str] | None = None,
        stage_input_over_bytes: int = STAGE_INPUT_OVER,
        **options: Any,
    ) -> RunRecord:
        return run_execution(
            execution_input,
            EngineOptions(
                home=home,
                template=template,
                hooks=CrawlHooks(stage_input_over_bytes=stage_input_over_bytes),
                time_scale=0.01,
                env_overrides={env.ALLOW_PRIVATE_NETWORKS: "true", **(env_overrides or {})},
                **options,
            ),
        )

    return run


@pytest.fixture
def crawl(template: dict[str, Any], tmp_path: Path) -> Crawl:
    """Run one execution of the real state machine; the store persists within the test."""
    return _crawler(template, tmp_path / "home")


@pytest.fixture
def crawl_elsewhere(template: dict[str, Any], tmp_path: Path) -> Crawl:
    """Like `crawl`, with a store of its own (to compare two runs that both start empty)."""
    return _crawler(template, tmp_path / "elsewhere")
