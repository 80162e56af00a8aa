"""The crawlmap configuration: cdk.json context -> one frozen, validated dataclass.

All keys live under the "crawlmap" context object (cdk.json holds every key with its default).
`cdk synth -c crawlmap.<key>=<value>` overrides one key; the value is parsed as JSON when it
can be (so `-c crawlmap.max_concurrency=20` is the number 20), else kept as a string.
Every problem raises ConfigError naming the key and the allowed range; unknown keys too.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from lambdas.common.errors import ConfigError

CONTEXT_KEY = "crawlmap"

# The values CloudWatch Logs accepts for RetentionInDays.
# fmt: off
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
                      1827, 2192, 2557, 2922, 3288, 3653)
# fmt: on
FUNCTION_NAMES = ("list_pages", "crawl_batch", "store_and_notify")
_CRON = re.compile(r"^cron\((\S+ ){5}\S+\)$|^rate\(\d+ (minute|minutes|hour|hours|day|days)\)$")
# The execution input contract (docs/CONTRACT.md): one source at most, plus per-run overrides.
_SOURCE_KEYS = ("pages", "sitemap", "pages_s3")
_INPUT_KEYS = {*_SOURCE_KEYS, "batch_size", "distributed_threshold"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

Architecture = Literal["arm64", "x86_64"]
RemovalPolicyName = Literal["retain", "destroy"]
Encryption = Literal["aws_managed", "customer_managed"]


@dataclass(frozen=True)
class ScheduleConfig:
    expression: str = "cron(0 3 * * ? *)"  # EventBridge cron(...) or rate(...), UTC
    enabled: bool = True
    input: Mapping[str, Any] = field(default_factory=dict)  # execution input the rule sends


@dataclass(frozen=True)
class FunctionConfig:
    memory_mb: int
    timeout_s: int
    reserved_concurrency: int | None = None


@dataclass(frozen=True)
class AlarmConfig:
    period_minutes: int = 5
    executions_failed: int = 1
    executions_timed_out: int = 1
    executions_throttled: int = 1
    function_errors: int = 1
    function_throttles: int = 1
    dlq_messages: int = 1


def _default_functions() -> Mapping[str, FunctionConfig]:
    return {
        "list_pages": FunctionConfig(memory_mb=512, timeout_s=120),
        "crawl_batch": FunctionConfig(memory_mb=512, timeout_s=300),
        "store_and_notify": FunctionConfig(memory_mb=1024, timeout_s=600),
    }


@dataclass(frozen=True)
class CrawlmapConfig:
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    default_source: Mapping[str, Any] = field(
        default_factory=lambda: {"pages": ["https://example.com/"]}
    )
    max_concurrency: int = 10
    distributed_max_concurrency: int = 100
    distributed_threshold: int = 500
    tolerated_failure_percentage: int = 10
    batch_size: int = 10
    distributed_batch_size: int = 100
    max_pages: int = 100_000
    request_timeout: float = 10.0
    user_agent: str = "crawlmap/0.1 (+https://github.com/crawlmap/crawlmap)"
    failure_ratio: float = 0.5
    notification_email: str | None = None
    log_retention_days: int = 30
    removal_policy: RemovalPolicyName = "retain"
    encryption: Encryption = "aws_managed"
    access_logs: bool = False
    functions: Mapping[str, FunctionConfig] = field(default_factory=_default_functions)
    architecture: Architecture = "arm64"
    allow_private_networks: bool = False
    obey_robots: bool = True
    selectors: Mapping[str, str] = field(default_factory=dict)
    tracking_params: tuple[str, ...] = ()
    run_ttl_days: int = 90
    alarms: AlarmConfig = field(default_factory=AlarmConfig)
    execution_timeout_minutes: int = 120
    log_execution_data: bool = False


# ---------------------------------------------------------------------------- validation


def _int(key: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(key, f"expected a whole number ({low}..{high}), got {value!r}")
    if not low <= value <= high:
        raise ConfigError(key, f"must be between {low} and {high}, got {value}")
    return value


def _float(key: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(key, f"expected a number ({low}..{high}), got {value!r}")
    if not low <= value <= high:
        raise ConfigError(key, f"must be between {low} and {high}, got {value}")
    return float(value)


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(key, f"expected true or false, got {value!r}")
    return value


def _str(key: str, value: Any, *, max_len: int = 512) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(key, f"expected a non-empty string, got {value!r}")
    if len(value) > max_len:
        raise ConfigError(key, f"longer than {max_len} characters")
    return value


def _choice(key: str, value: Any, allowed: tuple[str, ...]) -> Any:
    if value not in allowed:
        raise ConfigError(key, f"must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _object(key: str, value: Any, allowed: set[str] | None = None) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(key, f"expected an object, got {value!r}")
    if allowed is not None:
        for name in value:
            if name not in allowed:
                raise ConfigError(
                    f"{key}.{name}", f"unknown key (allowed: {', '.join(sorted(allowed))})"
                )
    return value


def _url(key: str, value: Any) -> str:
    text = _str(key, value, max_len=2083)
    if not text.startswith(("http://", "https://")):
        raise ConfigError(key, f"must be an http(s) URL, got {value!r}")
    return text


def _source(key: str, value: Any) -> Mapping[str, Any]:
    source = _object(key, value, set(_SOURCE_KEYS))
    if len(source) != 1:
        raise ConfigError(key, "must be exactly one of pages (list), sitemap (URL), pages_s3 (URI)")
    if "sitemap" in source:
        return {"sitemap": _url(f"{key}.sitemap", source["sitemap"])}
    if "pages_s3" in source:
        uri = _str(f"{key}.pages_s3", source["pages_s3"])
        if not uri.startswith("s3://") or "/" not in uri[5:]:
            raise ConfigError(f"{key}.pages_s3", f"must be s3://bucket/key, got {uri!r}")
        return {"pages_s3": uri}
    pages = source["pages"]
    if not isinstance(pages, list) or not pages:
        raise ConfigError(f"{key}.pages", "expected a non-empty list of URLs")
    return {"pages": [_url(f"{key}.pages[{i}]", url) for i, url in enumerate(pages)]}


def _schedule(key: str, value: Any) -> ScheduleConfig:
    raw = _object(key, value, {"expression", "enabled", "input"})
    default = ScheduleConfig()
    expression = _str(f"{key}.expression", raw.get("expression", default.expression))
    if not _CRON.match(expression):
        raise ConfigError(
            f"{key}.expression",
            f"must be cron(min hour day month weekday year) or rate(N unit), got {expression!r}",
        )
    schedule_input = _object(f"{key}.input", raw.get("input", {}), _INPUT_KEYS)
    sources = {name: schedule_input[name] for name in _SOURCE_KEYS if name in schedule_input}
    if len(sources) > 1:
        raise ConfigError(f"{key}.input", "at most one of pages, sitemap, pages_s3")
    if sources:
        _source(f"{key}.input", sources)
    return ScheduleConfig(
        expression=expression,
        enabled=_bool(f"{key}.enabled", raw.get("enabled", default.enabled)),
        input=dict(schedule_input),
    )


def _functions(key: str, value: Any) -> Mapping[str, FunctionConfig]:
    raw = _object(key, value, set(FUNCTION_NAMES))
    defaults = _default_functions()
    result: dict[str, FunctionConfig] = {}
    for name in FUNCTION_NAMES:
        base = defaults[name]
        spec = _object(
            f"{key}.{name}", raw.get(name, {}), {"memory_mb", "timeout_s", "reserved_concurrency"}
        )
        reserved = spec.get("reserved_concurrency", base.reserved_concurrency)
        result[name] = FunctionConfig(
            memory_mb=_int(
                f"{key}.{name}.memory_mb", spec.get("memory_mb", base.memory_mb), 128, 10240
            ),
            timeout_s=_int(
                f"{key}.{name}.timeout_s", spec.get("timeout_s", base.timeout_s), 1, 900
            ),
            reserved_concurrency=None
            if reserved is None
            else _int(f"{key}.{name}.reserved_concurrency", reserved, 1, 1000),
        )
    return result


def _alarms(key: str, value: Any) -> AlarmConfig:
    names = set(AlarmConfig.__dataclass_fields__)
    raw = _object(key, value, names)
    default = AlarmConfig()
    period = _int(
        f"{key}.period_minutes", raw.get("period_minutes", default.period_minutes), 1, 1440
    )
    thresholds = {
        name: _int(f"{key}.{name}", raw.get(name, getattr(default, name)), 1, 1_000_000)
        for name in names - {"period_minutes"}
    }
    return AlarmConfig(period_minutes=period, **thresholds)


def _selectors(key: str, value: Any) -> Mapping[str, str]:
    raw = _object(key, value)
    for name, css in raw.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", name):
            raise ConfigError(f"{key}.{name}", "names are letters, digits and _ (max 64)")
        _str(f"{key}.{name}", css)
    return dict(raw)


def _tracking_params(key: str, value: Any) -> tuple[str, ...]:
    """Query parameters dropped from URLs before dedupe (utm_* and click ids always are)."""
    if not isinstance(value, list | tuple):
        raise ConfigError(key, f"expected a list of query parameter names, got {value!r}")
    for index, name in enumerate(value):
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.\-\[\]]{1,64}", name):
            raise ConfigError(f"{key}[{index}]", f"not a query parameter name: {name!r}")
    return tuple(value)


def _email(key: str, value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _EMAIL.match(value):
        raise ConfigError(key, f"expected an e-mail address or null, got {value!r}")
    return value


def _apply_dotted_overrides(base: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """Merge `crawlmap.a.b=value` context keys (from `cdk -c`) into the crawlmap object."""
    merged = json.loads(json.dumps(base))
    for name, value in context.items():
        if not name.startswith(CONTEXT_KEY + "."):
            continue
        path = name.split(".")[1:]
        if isinstance(value, str):
            # else a plain string such as a cron expression or a user agent
            with contextlib.suppress(json.JSONDecodeError):
                value = json.loads(value)
        target = merged
        for part in path[:-1]:
            child = target.get(part)
            if not isinstance(child, dict):
                child = {}
                target[part] = child
            target = child
        target[path[-1]] = value
    return merged


def load_config(context: Mapping[str, Any]) -> CrawlmapConfig:
    """Validate the CDK context (the whole context mapping) into a CrawlmapConfig.

    Missing keys take the dataclass defaults (which equal cdk.json's; a test keeps them equal).
    """
    base = context.get(CONTEXT_KEY, {})
    if isinstance(base, str):  # `-c crawlmap='{...}'` arrives as a string
        try:
            base = json.loads(base)
        except json.JSONDecodeError:
            raise ConfigError(CONTEXT_KEY, "must be a JSON object") from None
    raw = _apply_dotted_overrides(_object(CONTEXT_KEY, base), context)
    _object(CONTEXT_KEY, raw, set(CrawlmapConfig.__dataclass_fields__))
    d = CrawlmapConfig()

    def get(name: str) -> Any:
        return raw.get(name, getattr(d, name))

    k = CONTEXT_KEY
    config = CrawlmapConfig(
        schedule=_schedule(f"{k}.schedule", raw.get("schedule", {})),
        default_source=_source(f"{k}.default_source", get("default_source")),
        max_concurrency=_int(f"{k}.max_concurrency", get("max_concurrency"), 1, 40),
        distributed_max_concurrency=_int(
            f"{k}.distributed_max_concurrency", get("distributed_max_concurrency"), 1, 10_000
        ),
        distributed_threshold=_int(
            f"{k}.distributed_threshold", get("distributed_threshold"), 0, 1_000_000
        ),
        tolerated_failure_percentage=_int(
            f"{k}.tolerated_failure_percentage", get("tolerated_failure_percentage"), 0, 100
        ),
        batch_size=_int(f"{k}.batch_size", get("batch_size"), 1, 100),
        distributed_batch_size=_int(
            f"{k}.distributed_batch_size", get("distributed_batch_size"), 1, 1000
        ),
        max_pages=_int(f"{k}.max_pages", get("max_pages"), 1, 1_000_000),
        request_timeout=_float(f"{k}.request_timeout", get("request_timeout"), 0.1, 300.0),
        user_agent=_str(f"{k}.user_agent", get("user_agent")),
        failure_ratio=_float(f"{k}.failure_ratio", get("failure_ratio"), 0.0, 1.0),
        notification_email=_email(f"{k}.notification_email", get("notification_email")),
        log_retention_days=_log_retention(f"{k}.log_retention_days", get("log_retention_days")),
        removal_policy=_choice(f"{k}.removal_policy", get("removal_policy"), ("retain", "destroy")),
        encryption=_choice(
            f"{k}.encryption", get("encryption"), ("aws_managed", "customer_managed")
        ),
        access_logs=_bool(f"{k}.access_logs", get("access_logs")),
        functions=_functions(f"{k}.functions", raw.get("functions", {})),
        architecture=_choice(f"{k}.architecture", get("architecture"), ("arm64", "x86_64")),
        allow_private_networks=_bool(f"{k}.allow_private_networks", get("allow_private_networks")),
        obey_robots=_bool(f"{k}.obey_robots", get("obey_robots")),
        selectors=_selectors(f"{k}.selectors", get("selectors")),
        tracking_params=_tracking_params(f"{k}.tracking_params", get("tracking_params")),
        run_ttl_days=_int(f"{k}.run_ttl_days", get("run_ttl_days"), 1, 3650),
        alarms=_alarms(f"{k}.alarms", raw.get("alarms", {})),
        execution_timeout_minutes=_int(
            f"{k}.execution_timeout_minutes", get("execution_timeout_minutes"), 1, 525_600
        ),
        log_execution_data=_bool(f"{k}.log_execution_data", get("log_execution_data")),
    )
    slowest = config.functions["crawl_batch"].timeout_s
    if config.request_timeout * 2 > slowest:
        raise ConfigError(
            f"{k}.request_timeout",
            f"must leave room for a retry within functions.crawl_batch.timeout_s ({slowest} s): "
            f"at most {slowest / 2:g}",
        )
    return config


def _log_retention(key: str, value: Any) -> int:
    if isinstance(value, bool) or value not in LOG_RETENTION_DAYS:
        allowed = ", ".join(str(v) for v in LOG_RETENTION_DAYS)
        raise ConfigError(key, f"must be one of {allowed}, got {value!r}")
    return int(value)
