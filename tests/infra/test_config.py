"""Configuration: cdk.json context -> CrawlmapConfig, and one clear line for a bad value."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lambdas.common.errors import ConfigError
from lambdas.common.settings import Settings
from stacks.config import CrawlmapConfig, load_config

REPO_ROOT = Path(__file__).resolve().parents[2]


def cdk_json_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    return context


def test_cdk_json_holds_every_key_with_the_dataclass_default() -> None:
    crawlmap = cdk_json_context()["crawlmap"]
    assert set(crawlmap) == set(CrawlmapConfig.__dataclass_fields__)
    assert load_config(cdk_json_context()) == load_config({}) == CrawlmapConfig()


def test_defaults_agree_with_the_functions_own_defaults() -> None:
    # The functions fall back to these when a variable is unset (local runs, tests).
    config, settings = CrawlmapConfig(), Settings()
    assert config.user_agent == settings.user_agent
    assert config.batch_size == settings.batch_size
    assert config.distributed_batch_size == settings.distributed_batch_size
    assert config.max_pages == settings.max_pages
    assert config.distributed_threshold == settings.distributed_threshold
    assert config.run_ttl_days == settings.run_ttl_days
    assert config.request_timeout == settings.request_timeout
    assert config.obey_robots == settings.obey_robots
    assert config.allow_private_networks == settings.allow_private_networks


@pytest.mark.parametrize(
    ("overrides", "key", "problem"),
    [
        ({"max_concurrency": 41}, "crawlmap.max_concurrency", "between 1 and 40"),
        ({"max_concurrency": 0}, "crawlmap.max_concurrency", "between 1 and 40"),
        ({"max_concurrency": "ten"}, "crawlmap.max_concurrency", "whole number"),
        ({"max_concurrency": True}, "crawlmap.max_concurrency", "whole number"),
        ({"distributed_max_concurrency": 10_001}, "crawlmap.distributed_max_concurrency", "10000"),
        ({"tolerated_failure_percentage": 101}, "crawlmap.tolerated_failure_percentage", "100"),
        ({"batch_size": 101}, "crawlmap.batch_size", "between 1 and 100"),
        ({"failure_ratio": 1.5}, "crawlmap.failure_ratio", "between 0.0 and 1.0"),
        ({"request_timeout": 0}, "crawlmap.request_timeout", "between 0.1 and 300"),
        ({"request_timeout": 200}, "crawlmap.request_timeout", "functions.crawl_batch.timeout_s"),
        ({"log_retention_days": 31}, "crawlmap.log_retention_days", "one of 1, 3, 5"),
        ({"removal_policy": "keep"}, "crawlmap.removal_policy", "retain, destroy"),
        ({"architecture": "arm"}, "crawlmap.architecture", "arm64, x86_64"),
        ({"encryption": "none"}, "crawlmap.encryption", "aws_managed, customer_managed"),
        ({"notification_email": "not-an-email"}, "crawlmap.notification_email", "e-mail"),
        ({"obey_robots": "yes"}, "crawlmap.obey_robots", "true or false"),
        ({"tracking_params": "ref"}, "crawlmap.tracking_params", "list of query parameter names"),
        ({"tracking_params": ["ok", "a b"]}, "crawlmap.tracking_params[1]", "not a query"),
        ({"schedule": {"expression": "every day"}}, "crawlmap.schedule.expression", "cron("),
        ({"schedule": {"input": {"pages": "x"}}}, "crawlmap.schedule.input.pages", "list"),
        ({"schedule": {"input": {"oops": 1}}}, "crawlmap.schedule.input.oops", "unknown key"),
        ({"schedule": {"when": "now"}}, "crawlmap.schedule.when", "unknown key"),
        ({"default_source": {}}, "crawlmap.default_source", "exactly one of"),
        ({"default_source": {"sitemap": "ftp://x/"}}, "crawlmap.default_source.sitemap", "http"),
        (
            {"default_source": {"pages": ["https://a/", "file:///etc"]}},
            "crawlmap.default_source.pages[1]",
            "http(s) URL",
        ),
        (
            {"functions": {"crawl_batch": {"memory_mb": 64}}},
            "crawlmap.functions.crawl_batch.memory_mb",
            "between 128 and 10240",
        ),
        (
            {"functions": {"crawl_batch": {"timeout_s": 901}}},
            "crawlmap.functions.crawl_batch.timeout_s",
            "between 1 and 900",
        ),
        ({"functions": {"crawler": {}}}, "crawlmap.functions.crawler", "unknown key"),
        ({"alarms": {"function_errors": 0}}, "crawlmap.alarms.function_errors", "between 1"),
        ({"selectors": {"bad name": "h1"}}, "crawlmap.selectors.bad name", "letters"),
        ({"run_ttl_days": 0}, "crawlmap.run_ttl_days", "between 1 and 3650"),
        ({"max_pages": 2_000_000}, "crawlmap.max_pages", "1000000"),
        ({"colour": "blue"}, "crawlmap.colour", "unknown key"),
    ],
)
def test_a_bad_value_raises_config_error_naming_the_key(
    overrides: dict[str, Any], key: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({"crawlmap": overrides})
    assert caught.value.key == key
    assert problem in caught.value.problem


def test_dotted_context_overrides_are_parsed_as_json_where_they_can_be() -> None:
    config = load_config(
        {
            "crawlmap": {"batch_size": 5},
            "crawlmap.max_concurrency": "20",
            "crawlmap.functions.crawl_batch.memory_mb": "1024",
            "crawlmap.schedule.expression": "rate(6 hours)",
            "crawlmap.user_agent": "my-bot/1.0",
            "unrelated.key": "kept out",
        }
    )
    assert config.batch_size == 5
    assert config.max_concurrency == 20
    assert config.functions["crawl_batch"].memory_mb == 1024
    assert config.functions["list_pages"] == CrawlmapConfig().functions["list_pages"]
    assert config.schedule.expression == "rate(6 hours)"
    assert config.user_agent == "my-bot/1.0"


def test_valid_overrides_land_in_the_config() -> None:
    config = load_config(
        {
            "crawlmap": {
                "default_source": {"pages_s3": "s3://bucket/page-lists/site.txt"},
                "schedule": {"enabled": False, "input": {"pages": ["https://example.org/"]}},
                "notification_email": "ops@example.com",
                "selectors": {"price": ".price@content"},
                "distributed_threshold": 0,
            }
        }
    )
    assert config.default_source == {"pages_s3": "s3://bucket/page-lists/site.txt"}
    assert config.schedule.enabled is False
    assert config.schedule.input == {"pages": ["https://example.org/"]}
    assert config.notification_email == "ops@example.com"
    assert config.selectors == {"price": ".price@content"}
    assert config.distributed_threshold == 0


def _run_app(context: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(context)}
    environment["CDK_OUTDIR"] = str(REPO_ROOT / ".build" / "test-cdk-out")
    return subprocess.run(
        [sys.executable, "app.py"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_app_with_a_bad_context_value_exits_1_with_one_line_and_no_traceback() -> None:
    # CDK_CONTEXT_JSON is how `cdk synth -c crawlmap.max_concurrency=99` reaches app.py.
    result = _run_app({"crawlmap.max_concurrency": "99"})
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "crawlmap config: crawlmap.max_concurrency: must be between 1 and 40, got 99"
    ]


def test_app_rejects_an_unknown_key_under_the_crawlmap_namespace() -> None:
    result = _run_app({"crawlmap": {"max_concurency": 10}})
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("crawlmap config: crawlmap.max_concurency: unknown key")
    assert "Traceback" not in result.stderr
