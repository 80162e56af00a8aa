"""Configuration: cdk.json context -> CrawlmapConfig, and one clear line for a bad value."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from lambdas.common import env, tunables
from lambdas.common.errors import ConfigError
from lambdas.common.settings import Settings
from stacks.config import (
    CrawlmapConfig,
    config_warnings,
    load_config,
    merge_overrides,
    parse_context_options,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def cdk_json_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    return context


def test_cdk_json_holds_every_key_with_the_tables_default() -> None:
    crawlmap = cdk_json_context()["crawlmap"]
    assert crawlmap == tunables.context_defaults()
    assert load_config(cdk_json_context()) == load_config({}) == CrawlmapConfig()


def test_the_readme_configuration_table_is_the_tables() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("<!-- tunables:start")
    body = readme[readme.index("\n", start) + 1 : readme.index("<!-- tunables:end -->")]
    assert body.strip() == tunables.readme_table(), "run: python -m lambdas.common.tunables"


def test_the_typed_config_fields_are_table_keys_with_its_defaults() -> None:
    config = CrawlmapConfig()
    for item in fields(CrawlmapConfig):
        if item.name in ("schedule", "functions", "alarms", "values"):
            continue
        value = getattr(config, item.name)
        assert item.name in tunables.BY_KEY, f"{item.name}: add it to lambdas/common/tunables.py"
        expected = tunables.default(item.name)
        assert (list(value) if isinstance(value, tuple) else value) == expected, item.name
    assert config.schedule.expression == tunables.default("schedule.expression")
    assert config.functions["crawl_batch"].timeout_s == tunables.default(
        "functions.crawl_batch.timeout_s"
    )


def test_every_variable_is_a_settings_field_with_the_tables_default() -> None:
    settings = Settings()
    for entry in tunables.TUNABLES:
        if entry.env is None:
            continue
        assert entry.functions, f"{entry.key}: no function receives {entry.env}"
        if entry.key == "default_source":  # unset in the environment: the input must name one
            continue
        value = getattr(settings, entry.key)
        assert (list(value) if isinstance(value, tuple) else value) == entry.default, entry.key


def test_each_function_gets_only_its_variables_and_reads_them_back() -> None:
    config = load_config(
        {
            "crawlmap": {
                "per_host_concurrency": 8,
                "per_host_delay": 1.5,
                "max_crawl_delay": 2.0,
                "selectors": {"price": ".price@content"},
                "tracking_params": ["ref"],
            }
        }
    )
    for function in tunables.FUNCTION_NAMES:
        environment = config.environment(function)
        expected = {t.env for t in tunables.TUNABLES if t.env and function in t.functions}
        assert set(environment) == expected, function
        settings = Settings.from_env(
            {**environment, env.TABLE_NAME: "t", env.TOPIC_ARN: "arn"}, function=function
        )
        for entry in tunables.TUNABLES:
            if entry.env in environment:
                value = getattr(settings, entry.key)
                got = list(value) if isinstance(value, tuple) else value
                assert got == config.values[entry.key], entry.key
    crawl = config.environment("crawl_batch")
    assert crawl[env.PER_HOST_CONCURRENCY] == "8"
    assert crawl[env.PER_HOST_DELAY] == "1.5"
    assert crawl[env.MAX_CRAWL_DELAY] == "2"
    assert env.PER_HOST_DELAY in config.environment("list_pages")
    assert env.BATCH_SIZE not in crawl


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
        (
            {"schedule": {"input": {"batch_size": "x"}}},
            "crawlmap.schedule.input.batch_size",
            "whole number",
        ),
        (
            {"schedule": {"input": {"batch_size": 101}}},
            "crawlmap.schedule.input.batch_size",
            "between 1 and 100",
        ),
        (
            {"schedule": {"input": {"pages": ["http://"]}}},
            "crawlmap.schedule.input.pages[0]",
            "no host",
        ),
        (
            {"schedule": {"input": {"sitemap": "ftp://x/y.xml"}}},
            "crawlmap.schedule.input.sitemap",
            "http",
        ),
        (
            {"schedule": {"input": {"pages_s3": "s3://B/k"}}},
            "crawlmap.schedule.input.pages_s3",
            "bucket",
        ),
        (
            {"schedule": {"input": {"pages": [], "sitemap": "https://a/"}}},
            "crawlmap.schedule.input.sitemap",
            "only one",
        ),
        ({"schedule": {"input": []}}, "crawlmap.schedule.input", "object"),
        (
            {"schedule": {"expression": "rate(0 minutes)"}},
            "crawlmap.schedule.expression",
            "positive",
        ),
        (
            {"schedule": {"expression": "rate(1 hours)"}},
            "crawlmap.schedule.expression",
            "rate(1 hour)",
        ),
        (
            {"schedule": {"expression": "rate(5 weeks)"}},
            "crawlmap.schedule.expression",
            "rate(N unit)",
        ),
        (
            {"schedule": {"expression": "cron(60 3 * * ? *)"}},
            "crawlmap.schedule.expression",
            "minutes '60'",
        ),
        (
            {"schedule": {"expression": "cron(0 24 * * ? *)"}},
            "crawlmap.schedule.expression",
            "hours",
        ),
        (
            {"schedule": {"expression": "cron(0 3 32 * ? *)"}},
            "crawlmap.schedule.expression",
            "day-of-month",
        ),
        (
            {"schedule": {"expression": "cron(0 3 ? 13 MON *)"}},
            "crawlmap.schedule.expression",
            "month",
        ),
        (
            {"schedule": {"expression": "cron(0 3 ? * 8 *)"}},
            "crawlmap.schedule.expression",
            "day-of-week",
        ),
        (
            {"schedule": {"expression": "cron(0 3 ? * FOO *)"}},
            "crawlmap.schedule.expression",
            "day-of-week",
        ),
        (
            {"schedule": {"expression": "cron(0 3 1 * MON *)"}},
            "crawlmap.schedule.expression",
            "exactly one",
        ),
        (
            {"schedule": {"expression": "cron(0 3 ? * ? *)"}},
            "crawlmap.schedule.expression",
            "exactly one",
        ),
        (
            {"schedule": {"expression": "cron(0/0 3 * * ? *)"}},
            "crawlmap.schedule.expression",
            "step",
        ),
        (
            {"schedule": {"expression": "cron(0 3 * * ? 1969)"}},
            "crawlmap.schedule.expression",
            "year",
        ),
        (
            {"schedule": {"expression": "cron(0 20-3 * * ? *)"}},
            "crawlmap.schedule.expression",
            "backwards",
        ),
        ({"schedule": "daily"}, "crawlmap.schedule", "expected an object"),
        ({"selectors": {"title": "h2[[["}}, "crawlmap.selectors.title", "not a valid CSS selector"),
        (
            {"selectors": {"next": "a[[@href"}},
            "crawlmap.selectors.next",
            "not a valid CSS selector",
        ),
        ({"selectors": ["h1"]}, "crawlmap.selectors", "object"),
        ({"user_agent": "bot/1.0\r\nX-Evil: 1"}, "crawlmap.user_agent", "visible ASCII"),
        ({"user_agent": "bot/1.0 \u00e9t\u00e9"}, "crawlmap.user_agent", "visible ASCII"),
        ({"user_agent": " bot"}, "crawlmap.user_agent", "visible ASCII"),
        ({"user_agent": ""}, "crawlmap.user_agent", "non-empty"),
        ({"per_host_concurrency": 65}, "crawlmap.per_host_concurrency", "between 1 and 64"),
        ({"per_host_concurrency": 0}, "crawlmap.per_host_concurrency", "between 1 and 64"),
        ({"per_host_delay": 61}, "crawlmap.per_host_delay", "between 0.0 and 60.0"),
        ({"per_host_delay": -1}, "crawlmap.per_host_delay", "between 0.0 and 60.0"),
        ({"max_crawl_delay": "5s"}, "crawlmap.max_crawl_delay", "expected a number"),
        ({"max_redirects": 31}, "crawlmap.max_redirects", "between 0 and 30"),
        (
            {"functions": {"crawl_batch": {"reserved_concurrency": 0}}},
            "crawlmap.functions.crawl_batch.reserved_concurrency",
            "between 1 and 1000",
        ),
        (
            {"functions": {"crawl_batch": 512}},
            "crawlmap.functions.crawl_batch",
            "expected an object",
        ),
        (
            {"functions": {"crawl_batch": {"memory": 512}}},
            "crawlmap.functions.crawl_batch.memory",
            "unknown key",
        ),
        ({"schedule": {"when": "now"}}, "crawlmap.schedule.when", "unknown key"),
        ({"default_source": {}}, "crawlmap.default_source", "exactly one of"),
        ({"default_source": {"sitemap": "ftp://x/"}}, "crawlmap.default_source.sitemap", "http"),
        (
            {"default_source": {"pages": ["https://a/", "file:///etc"]}},
            "crawlmap.default_source.pages[1]",
            "http",
        ),
        ({"default_source": {"pages": ["http://"]}}, "crawlmap.default_source.pages[0]", "no host"),
        ({"default_source": {"pages": [7]}}, "crawlmap.default_source.pages[0]", "URL"),
        ({"default_source": {"pages": []}}, "crawlmap.default_source.pages", "empty"),
        ({"default_source": {"batch_size": 5}}, "crawlmap.default_source", "exactly one of"),
        (
            {"default_source": {"pages": ["https://a/", "https://b/"]}, "max_pages": 1},
            "crawlmap.default_source.pages",
            "more than 1",
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


def test_a_crawl_batch_reserved_concurrency_below_the_map_concurrency_is_a_warning() -> None:
    # Allowed (the run finishes, throttled invocations are retried), and said, naming both keys.
    config = load_config({"crawlmap": {"functions": {"crawl_batch": {"reserved_concurrency": 20}}}})
    (warning,) = config_warnings(config)
    assert "crawlmap.functions.crawl_batch.reserved_concurrency (20)" in warning
    assert "crawlmap.distributed_max_concurrency (100)" in warning
    assert "TooManyRequestsException" in warning
    assert config_warnings(load_config({})) == []
    low = load_config({"crawlmap": {"functions": {"crawl_batch": {"reserved_concurrency": 2}}}})
    assert len(config_warnings(low)) == 2  # below max_concurrency (10) too


def test_context_options_parse_as_cdk_synth_c_does() -> None:
    overrides = parse_context_options(
        [
            "crawlmap.batch_size=20",
            "functions.crawl_batch.reserved_concurrency=2",  # the prefix is optional
            "crawlmap.user_agent=my-bot/1.0 (+https://example.org/bot)",  # not JSON: a string
            "crawlmap.schedule.expression=rate(6 hours)",
            'crawlmap.default_source={"sitemap": "https://example.org/sitemap.xml"}',
            "crawlmap.notification_email=null",
            "crawlmap.selectors.price=.price@content",
            "crawlmap.batch_size=30",  # the last one wins
        ]
    )
    assert overrides == {
        "batch_size": 30,
        "functions": {"crawl_batch": {"reserved_concurrency": 2}},
        "user_agent": "my-bot/1.0 (+https://example.org/bot)",
        "schedule": {"expression": "rate(6 hours)"},
        "default_source": {"sitemap": "https://example.org/sitemap.xml"},
        "notification_email": None,
        "selectors": {"price": ".price@content"},
    }
    merged = merge_overrides(cdk_json_context()["crawlmap"], overrides)
    # an object value replaces the configured one whole (not pages and sitemap both)
    assert merged["default_source"] == {"sitemap": "https://example.org/sitemap.xml"}
    assert merged["functions"]["crawl_batch"]["memory_mb"] == 512
    assert load_config({"crawlmap": merged}).values["batch_size"] == 30
    # the same result as cdk's way: the options as dotted context keys next to cdk.json's
    via_cdk = load_config(
        {
            **cdk_json_context(),
            "crawlmap.batch_size": "30",
            "crawlmap.functions.crawl_batch.reserved_concurrency": "2",
            "crawlmap.default_source": '{"sitemap": "https://example.org/sitemap.xml"}',
        }
    )
    assert via_cdk.batch_size == 30
    assert via_cdk.functions["crawl_batch"].reserved_concurrency == 2
    assert via_cdk.default_source == {"sitemap": "https://example.org/sitemap.xml"}


@pytest.mark.parametrize(
    ("option", "key", "problem"),
    [
        ("batch_size", "batch_size", "KEY=VALUE"),
        ("=5", "=5", "KEY=VALUE"),
        ("crawlmap=5", "crawlmap", "name a key"),
        ("crawlmap.batch_size=x", "crawlmap.batch_size", "whole number"),
        ("crawlmap.batch_sise=5", "crawlmap.batch_sise", "unknown key"),
        ("crawlmap.selectors.t=h2[[[", "crawlmap.selectors.t", "not a valid CSS selector"),
        ("schedule.expression=rate(0 minutes)", "crawlmap.schedule.expression", "positive"),
        ('schedule.input={"batch_size": "x"}', "crawlmap.schedule.input.batch_size", "whole"),
        ('default_source={"pages": ["http://"]}', "crawlmap.default_source.pages[0]", "host"),
        ("user_agent=bot\u00e9", "crawlmap.user_agent", "visible ASCII"),
        (
            "@aws-cdk/core:newStyleStackSynthesis=true",
            "crawlmap.@aws-cdk/core:newStyleStackSynthesis",
            "unknown key",
        ),
    ],
)
def test_a_bad_context_option_raises_config_error_naming_the_key(
    option: str, key: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_context_options([option])
    assert caught.value.key == key
    assert problem in caught.value.problem


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
