"""The crawlmap configuration: cdk.json context -> one frozen, validated dataclass.

All keys live under the "crawlmap" context object; each key's default, range, check and
environment variable is one entry of lambdas/common/tunables.py (cdk.json holds every default).
`cdk synth -c crawlmap.<key>=<value>` overrides one key; the value is parsed as JSON when it
can be (so `-c crawlmap.max_concurrency=20` is the number 20), else kept as a string;
`parse_context_options` does the same for `crawlmap run -c` and `crawlmap serve -c`.
Every problem raises ConfigError naming the key and what is allowed; unknown keys too.
A value synth accepts is one the functions accept: the same checks run at their cold start, and
schedule.input and default_source go through ListPages' own execution-input validator.

CDK code imports runtime code only here and for shared constants: tunables, errors, env, and
the (pure) execution-input validator.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from lambdas.common import tunables
from lambdas.common.errors import ConfigError, InvalidInputError
from lambdas.common.settings import Settings
from lambdas.common.tunables import (
    CONTEXT_KEY,
    FUNCTION_NAMES,
    LOG_RETENTION_DAYS,
    default,
)
from lambdas.list_pages.execution_input import SOURCE_KEYS, check_execution_input

__all__ = [
    "CONTEXT_KEY",
    "FUNCTION_NAMES",
    "LOG_RETENTION_DAYS",
    "AlarmConfig",
    "CrawlmapConfig",
    "FunctionConfig",
    "ScheduleConfig",
    "config_warnings",
    "load_config",
    "merge_overrides",
    "parse_context_options",
]

Architecture = Literal["arm64", "x86_64"]
RemovalPolicyName = Literal["retain", "destroy"]
Encryption = Literal["aws_managed", "customer_managed"]


@dataclass(frozen=True)
class ScheduleConfig:
    expression: str = default("schedule.expression")  # EventBridge cron(...) or rate(...), UTC
    enabled: bool = default("schedule.enabled")
    input: Mapping[str, Any] = field(default_factory=lambda: default("schedule.input"))


@dataclass(frozen=True)
class FunctionConfig:
    memory_mb: int
    timeout_s: int
    reserved_concurrency: int | None = None


def _function_config(values: Mapping[str, Any], name: str) -> FunctionConfig:
    return FunctionConfig(
        memory_mb=values[f"functions.{name}.memory_mb"],
        timeout_s=values[f"functions.{name}.timeout_s"],
        reserved_concurrency=values[f"functions.{name}.reserved_concurrency"],
    )


def _default_values() -> dict[str, Any]:
    return {entry.key: default(entry.key) for entry in tunables.TUNABLES}


def _default_functions() -> Mapping[str, FunctionConfig]:
    values = _default_values()
    return {name: _function_config(values, name) for name in FUNCTION_NAMES}


@dataclass(frozen=True)
class AlarmConfig:
    period_minutes: int = default("alarms.period_minutes")
    executions_failed: int = default("alarms.executions_failed")
    executions_timed_out: int = default("alarms.executions_timed_out")
    executions_throttled: int = default("alarms.executions_throttled")
    function_errors: int = default("alarms.function_errors")
    function_throttles: int = default("alarms.function_throttles")
    dlq_messages: int = default("alarms.dlq_messages")


@dataclass(frozen=True)
class CrawlmapConfig:
    """What the stack reads, typed; `values` holds every key (the functions' environment).

    Build it with load_config (CrawlmapConfig() is the defaults).
    """

    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    default_source: Mapping[str, Any] = field(default_factory=lambda: default("default_source"))
    max_concurrency: int = default("max_concurrency")
    distributed_max_concurrency: int = default("distributed_max_concurrency")
    distributed_threshold: int = default("distributed_threshold")
    tolerated_failure_percentage: int = default("tolerated_failure_percentage")
    batch_size: int = default("batch_size")
    distributed_batch_size: int = default("distributed_batch_size")
    max_pages: int = default("max_pages")
    request_timeout: float = default("request_timeout")
    user_agent: str = default("user_agent")
    failure_ratio: float = default("failure_ratio")
    notification_email: str | None = default("notification_email")
    log_retention_days: int = default("log_retention_days")
    removal_policy: RemovalPolicyName = default("removal_policy")
    encryption: Encryption = default("encryption")
    access_logs: bool = default("access_logs")
    functions: Mapping[str, FunctionConfig] = field(default_factory=_default_functions)
    architecture: Architecture = default("architecture")
    allow_private_networks: bool = default("allow_private_networks")
    obey_robots: bool = default("obey_robots")
    selectors: Mapping[str, str] = field(default_factory=dict)
    tracking_params: tuple[str, ...] = ()
    run_ttl_days: int = default("run_ttl_days")
    alarms: AlarmConfig = field(default_factory=AlarmConfig)
    execution_timeout_minutes: int = default("execution_timeout_minutes")
    log_execution_data: bool = default("log_execution_data")
    values: Mapping[str, Any] = field(default_factory=_default_values, repr=False)

    def environment(self, function: str) -> dict[str, str]:
        """The tunables' variables `function` gets (resource names are the stack's to add)."""
        return tunables.environment_for(function, self.values)


# ---------------------------------------------------------------------------- loading

_GROUPS = {key.rsplit(".", 1)[0] for key in tunables.BY_KEY if "." in key}
_GROUPS |= {group.rsplit(".", 1)[0] for group in set(_GROUPS) if "." in group}
_TOP_LEVEL = {key.split(".", 1)[0] for key in tunables.BY_KEY}


def _check_names(raw: Mapping[str, Any], prefix: str = "") -> None:
    """Unknown keys are errors, at every level (a typo must not fall back to a default)."""
    for name, value in raw.items():
        path = f"{prefix}{name}"
        if path in tunables.BY_KEY:
            continue
        if path in _GROUPS:
            if not isinstance(value, Mapping):
                raise ConfigError(f"{CONTEXT_KEY}.{path}", f"expected an object, got {value!r}")
            _check_names(value, f"{path}.")
            continue
        siblings = {
            key[len(prefix) :].split(".", 1)[0] for key in tunables.BY_KEY if key.startswith(prefix)
        }
        raise ConfigError(
            f"{CONTEXT_KEY}.{path}", f"unknown key (allowed: {', '.join(sorted(siblings))})"
        )


def _lookup(raw: Mapping[str, Any], key: str) -> Any:
    target: Any = raw
    for part in key.split("."):
        if not isinstance(target, Mapping) or part not in target:
            return default(key)
        target = target[part]
    return target


def _json_or_text(value: Any) -> Any:
    """A -c value as `cdk synth` hands it to the app (a string) -> JSON when it parses."""
    if isinstance(value, str):
        with contextlib.suppress(json.JSONDecodeError):
            return json.loads(value)
    return value


def _set_path(target: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        child = target.get(part)
        if not isinstance(child, dict):
            child = {}
            target[part] = child
        target = child
    target[path[-1]] = value


def _crawlmap_object(context: Mapping[str, Any]) -> dict[str, Any]:
    """context["crawlmap"] with `crawlmap.a.b=value` keys (from `cdk -c`) merged in.

    The prefix is optional: `-c batch_size=20` is `-c crawlmap.batch_size=20`.
    """
    base = _json_or_text(context.get(CONTEXT_KEY, {}))  # `-c crawlmap='{...}'` is a string
    if not isinstance(base, Mapping):
        raise ConfigError(CONTEXT_KEY, f"must be a JSON object, got {base!r}")
    merged: dict[str, Any] = json.loads(json.dumps(base))
    for name, value in context.items():
        path = name.split(".")
        if path[0] == CONTEXT_KEY and len(path) > 1:
            path = path[1:]
        elif path[0] not in _TOP_LEVEL or name == CONTEXT_KEY:
            continue  # another context key (feature flags and the like)
        _set_path(merged, path, _json_or_text(value))
    return merged


def _as_config_errors(prefix: str, check: Callable[[], object]) -> None:
    """Run ListPages' validator; its field names become keys under `prefix`."""
    try:
        check()
    except InvalidInputError as error:
        key = prefix if error.field == "input" else f"{prefix}.{error.field}"
        raise ConfigError(key, error.problem) from None


def _check_sources(values: Mapping[str, Any]) -> None:
    k = CONTEXT_KEY
    source = values["default_source"]
    if len(source) != 1 or next(iter(source)) not in SOURCE_KEYS:
        raise ConfigError(
            f"{k}.default_source",
            "must be exactly one of pages (list), sitemap (URL), pages_s3 (s3://bucket/key)",
        )
    settings = Settings(
        default_source=source,
        max_pages=values["max_pages"],
        batch_size=values["batch_size"],
        distributed_batch_size=values["distributed_batch_size"],
        distributed_threshold=values["distributed_threshold"],
    )
    _as_config_errors(f"{k}.default_source", lambda: check_execution_input(source, settings))
    schedule_input = values["schedule.input"]
    _as_config_errors(
        f"{k}.schedule.input", lambda: check_execution_input(schedule_input, settings)
    )


def load_config(context: Mapping[str, Any]) -> CrawlmapConfig:
    """Validate the CDK context (the whole context mapping) into a CrawlmapConfig.

    Missing keys take the table's defaults (which equal cdk.json's; a test keeps them equal).
    """
    raw = _crawlmap_object(context)
    _check_names(raw)
    values = {
        entry.key: entry.check(f"{CONTEXT_KEY}.{entry.key}", _lookup(raw, entry.key))
        for entry in tunables.TUNABLES
    }
    _check_sources(values)
    slowest = values["functions.crawl_batch.timeout_s"]
    if values["request_timeout"] * 2 > slowest:
        raise ConfigError(
            f"{CONTEXT_KEY}.request_timeout",
            f"must leave room for a retry within functions.crawl_batch.timeout_s ({slowest} s): "
            f"at most {slowest / 2:g}",
        )
    typed = {f.name for f in fields(CrawlmapConfig)} & set(values)
    return CrawlmapConfig(
        schedule=ScheduleConfig(
            expression=values["schedule.expression"],
            enabled=values["schedule.enabled"],
            input=values["schedule.input"],
        ),
        functions={name: _function_config(values, name) for name in FUNCTION_NAMES},
        alarms=AlarmConfig(**{f.name: values[f"alarms.{f.name}"] for f in fields(AlarmConfig)}),
        tracking_params=tuple(values["tracking_params"]),
        values=values,
        **{name: values[name] for name in typed - {"tracking_params"}},
    )


def config_warnings(config: CrawlmapConfig) -> list[str]:
    """Values that run, but not as well as they could: printed by app.py, never fatal.

    A crawl_batch reserved_concurrency below the Map concurrency it serves is allowed (an account
    may cap it on purpose): Lambda throttles the surplus invocations and CrawlBatch's Retry
    (Lambda.TooManyRequestsException) retries them, so the run finishes, later.
    """
    reserved = config.functions["crawl_batch"].reserved_concurrency
    warnings: list[str] = []
    k = CONTEXT_KEY
    for name, concurrency in (
        ("max_concurrency", config.max_concurrency),
        ("distributed_max_concurrency", config.distributed_max_concurrency),
    ):
        if reserved is not None and reserved < concurrency:
            warnings.append(
                f"{k}.functions.crawl_batch.reserved_concurrency ({reserved}) is below "
                f"{k}.{name} ({concurrency}): CrawlBatch invocations beyond {reserved} are "
                "throttled and retried (Lambda.TooManyRequestsException), so runs take longer"
            )
    return warnings


def parse_context_options(
    options: Iterable[str], base: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """`-c KEY=VALUE` options, as `cdk synth -c` reads them -> overrides of the crawlmap object.

    KEY is a cdk.json key with or without the `crawlmap.` prefix (`functions.crawl_batch.
    reserved_concurrency`); VALUE is JSON when it parses, else a string. Later options win.
    The result (nested, for stacks.synth.context_with / EngineOptions.context_overrides) is
    validated applied to `base` (the crawlmap object; cdk.json's when None): a bad value raises
    ConfigError naming `crawlmap.<key>`, as `cdk synth` would.
    """
    overrides: dict[str, Any] = {}
    for option in options:
        key, sep, raw = option.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(option or "-c", "expected KEY=VALUE, e.g. -c crawlmap.batch_size=20")
        path = key.split(".")
        if path[0] == CONTEXT_KEY:
            path = path[1:]
        if not path or not all(path):
            raise ConfigError(key, "name a key under crawlmap, e.g. crawlmap.batch_size")
        _set_path(overrides, path, _json_or_text(raw))
    if base is None:
        from stacks.synth import cdk_json_context  # synth imports this module

        base = cdk_json_context().get(CONTEXT_KEY, {})
    load_config({CONTEXT_KEY: merge_overrides(base, overrides)})
    return overrides


def merge_overrides(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The crawlmap object `base` with `overrides` merged in, group by group.

    A key whose value is an object (default_source, schedule.input, selectors) is replaced
    whole, as `cdk synth -c` replaces it: `{"sitemap": ...}` over `{"pages": [...]}` is a
    sitemap source, not both.
    """
    merged: dict[str, Any] = json.loads(json.dumps(base))

    def merge(target: dict[str, Any], changes: Mapping[str, Any], prefix: str) -> None:
        for name, value in changes.items():
            path = f"{prefix}{name}"
            group = path in _GROUPS and isinstance(target.get(name), dict)
            if group and isinstance(value, Mapping):
                merge(target[name], value, f"{path}.")
            else:
                target[name] = json.loads(json.dumps(value))

    merge(merged, overrides, "")
    return merged
