"""Every tunable of crawlmap, once: its cdk.json key, environment variable, default, range and help.

stacks/config.py validates cdk.json's context with these entries, the functions' Settings read
their variables with them (each function only its own), the execution-input validator takes its
ranges from them, cdk.json holds their defaults and the README's configuration table is rendered
from them (`python -m lambdas.common.tunables` prints it; tests keep cdk.json and the README
equal to this table). A new tunable is one entry here plus the code that uses it.

The same check runs on both sides, so a value cdk.json accepts is one the function accepts:
`validate(key, value)` where key is `crawlmap.<key>` at synth and the variable at cold start.
Pure: the standard library only (selectolax is imported when selectors are checked).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from lambdas.common import env
from lambdas.common.errors import ConfigError

CONTEXT_KEY = "crawlmap"
LIST_PAGES, CRAWL_BATCH, STORE_AND_NOTIFY = "list_pages", "crawl_batch", "store_and_notify"
FUNCTION_NAMES = (LIST_PAGES, CRAWL_BATCH, STORE_AND_NOTIFY)
FETCHING = (LIST_PAGES, CRAWL_BATCH)  # ListPages fetches sitemaps and robots.txt, CrawlBatch pages
# How a value travels in its environment variable.
Codec = Literal["int", "float", "bool", "str", "json", "csv"]
Check = Callable[[str, Any], Any]  # (key as the user wrote it, value) -> the value, or ConfigError

# The values CloudWatch Logs accepts for RetentionInDays.
# fmt: off
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
                      1827, 2192, 2557, 2922, 3288, 3653)
# fmt: on


@dataclass(frozen=True)
class Tunable:
    key: str  # path under context.crawlmap in cdk.json, e.g. "functions.crawl_batch.memory_mb"
    default: Any
    allowed: str  # the README's "allowed" column
    help: str
    check: Check
    env: str | None = None  # the variable the functions read it from
    functions: tuple[str, ...] = ()  # the functions that get the variable
    codec: Codec = "str"
    low: float | None = None  # numeric range, for other validators to share (execution input)
    high: float | None = None


# ------------------------------------------------------------------------------ the checks


def whole_number(low: int, high: int) -> Check:
    def check(key: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(key, f"expected a whole number ({low}..{high}), got {value!r}")
        if not low <= value <= high:
            raise ConfigError(key, f"must be between {low} and {high}, got {value}")
        return value

    return check


def number(low: float, high: float) -> Check:
    def check(key: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise ConfigError(key, f"expected a number ({low}..{high}), got {value!r}")
        if not low <= value <= high:
            raise ConfigError(key, f"must be between {low} and {high}, got {value}")
        return float(value)

    return check


def boolean(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(key, f"expected true or false, got {value!r}")
    return value


def choice(*allowed: Any) -> Check:
    def check(key: str, value: Any) -> Any:
        if isinstance(value, bool) or value not in allowed:
            raise ConfigError(key, f"must be one of {', '.join(map(str, allowed))}, got {value!r}")
        return value

    return check


def text(key: str, value: Any, *, max_len: int = 512) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(key, f"expected a non-empty string, got {value!r}")
    if len(value) > max_len:
        raise ConfigError(key, f"longer than {max_len} characters")
    return value


def visible_ascii(key: str, value: Any) -> str:
    """An HTTP header value any server takes: printable ASCII, spaces only between words."""
    value = text(key, value)
    if not re.fullmatch(r"[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?", value):
        raise ConfigError(
            key, f"only visible ASCII characters and inner spaces (no CR/LF), got {value!r}"
        )
    return value


def json_object(key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(key, f"expected an object, got {value!r}")
    return dict(value)


def email_or_null(key: str, value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
        raise ConfigError(key, f"expected an e-mail address or null, got {value!r}")
    return value


def reserved_concurrency(key: str, value: Any) -> int | None:
    return None if value is None else whole_number(1, 1000)(key, value)


def query_parameter_names(key: str, value: Any) -> list[str]:
    """Query parameters dropped from URLs before dedupe (utm_* and click ids always are)."""
    if not isinstance(value, list | tuple):
        raise ConfigError(key, f"expected a list of query parameter names, got {value!r}")
    for index, name in enumerate(value):
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.\-\[\]]{1,64}", name):
            raise ConfigError(f"{key}[{index}]", f"not a query parameter name: {name!r}")
    return list(value)


_SELECTOR_ATTRIBUTE = re.compile(r"^[A-Za-z_:][-A-Za-z0-9_:.]*$")


def split_selector(spec: str) -> tuple[str, str | None]:
    """ "css" -> (css, None); "css@attr" -> (css, attr): the text or an attribute is extracted."""
    head, sep, tail = spec.rpartition("@")
    if sep and head.strip() and _SELECTOR_ATTRIBUTE.match(tail.strip()):
        return head.strip(), tail.strip()
    return spec, None


def css_selectors(key: str, value: Any) -> dict[str, str]:
    """name -> CSS selector, each compiled by the parser CrawlBatch uses (lexbor)."""
    from selectolax.lexbor import LexborHTMLParser, SelectolaxError

    selectors = json_object(key, value)
    probe = LexborHTMLParser("<html></html>")
    for name, spec in selectors.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", name):
            raise ConfigError(f"{key}.{name}", "names are letters, digits and _ (max 64)")
        css, _ = split_selector(text(f"{key}.{name}", spec))
        try:
            probe.css(css)
        except SelectolaxError:
            raise ConfigError(f"{key}.{name}", f"not a valid CSS selector: {css!r}") from None
    return selectors


# EventBridge schedule expressions (UTC): cron(minute hour day-of-month month day-of-week year).
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_CRON_FIELDS: tuple[tuple[str, int, int, Mapping[str, int]], ...] = (
    ("minutes", 0, 59, {}),
    ("hours", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, {name: i + 1 for i, name in enumerate(_MONTHS)}),
    ("day-of-week", 1, 7, {name: i + 1 for i, name in enumerate(_WEEKDAYS)}),
    ("year", 1970, 2199, {}),
)


def _cron_value(name: str, raw: str, low: int, high: int, names: Mapping[str, int]) -> int:
    value = names.get(raw.upper(), int(raw) if raw.isdigit() else None)
    if value is None or not low <= value <= high:
        raise ValueError(f"{name} {raw!r} is not in {low}..{high}")
    return value


def _cron_special(index: int, item: str) -> bool:
    """Day-of-month L, LW, nW; day-of-week L, nL, n#k: true when item is one (and valid)."""
    name, low, high, names = _CRON_FIELDS[index]
    upper = item.upper()
    if index == 2:
        special = re.fullmatch(r"L|LW|(\d{1,2})W", upper)
    elif index == 4:
        special = re.fullmatch(r"L|(\w{1,3})(?:L|#[1-5])", upper)
    else:
        return False
    if special and special.group(1):
        _cron_value(name, special.group(1), low, high, names)
    return special is not None


def _cron_field(index: int, raw: str) -> None:
    name, low, high, names = _CRON_FIELDS[index]
    for item in raw.split(","):
        if _cron_special(index, item):
            continue
        base, slash, step = item.partition("/")
        if slash and not (step.isdigit() and 1 <= int(step) <= high):
            raise ValueError(f"{name} step {step!r} is not in 1..{high}")
        if base == "*":
            continue
        first, dash, last = base.partition("-")
        start = _cron_value(name, first, low, high, names)
        # day-of-week ranges may wrap (FRI-MON); the others may not
        if dash and _cron_value(name, last, low, high, names) < start and index != 4:
            raise ValueError(f"{name} range {base!r} runs backwards")


def schedule_expression(key: str, value: Any) -> str:
    expression = text(key, value)
    rate = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression)
    if rate:
        count, unit = int(rate.group(1)), rate.group(2)
        if count < 1:
            raise ConfigError(key, f"rate needs a positive whole number, got {expression!r}")
        if (count == 1) != (not unit.endswith("s")):
            raise ConfigError(key, f"say rate(1 {unit.rstrip('s')}) or rate(N {unit.rstrip('s')}s)")
        return expression
    cron = re.fullmatch(r"cron\((\S+) (\S+) (\S+) (\S+) (\S+) (\S+)\)", expression)
    if not cron:
        raise ConfigError(
            key,
            f"must be cron(min hour day month weekday year) or rate(N unit), got {expression!r}",
        )
    fields = cron.groups()
    if (fields[2] == "?") == (fields[4] == "?"):
        raise ConfigError(key, "exactly one of day-of-month and day-of-week must be '?'")
    try:
        for index, raw in enumerate(fields):
            if raw != "?" or index not in (2, 4):
                _cron_field(index, raw)
    except ValueError as exc:
        raise ConfigError(key, f"{exc} in {expression!r}") from None
    return expression


# ------------------------------------------------------------------------------ the table


def _int(key: str, default: int, low: int, high: int, help: str, **kw: Any) -> Tunable:
    return Tunable(
        key, default, f"{low}..{high}", help, whole_number(low, high), codec="int", low=low,
        high=high, **kw,
    )  # fmt: skip


def _float(key: str, default: float, low: float, high: float, help: str, **kw: Any) -> Tunable:
    return Tunable(
        key, default, f"{low:g}..{high:g}", help, number(low, high), codec="float", low=low,
        high=high, **kw,
    )  # fmt: skip


def _bool(key: str, default: bool, help: str, **kw: Any) -> Tunable:
    return Tunable(key, default, "bool", help, boolean, codec="bool", **kw)


def _choice(key: str, default: Any, allowed: Sequence[Any], help: str) -> Tunable:
    return Tunable(key, default, " / ".join(f"`{a}`" for a in allowed), help, choice(*allowed))


_FUNCTION_DEFAULTS = {
    LIST_PAGES: (512, 120),
    CRAWL_BATCH: (512, 300),
    STORE_AND_NOTIFY: (1024, 600),
}
_ALARMS = ("executions_failed", "executions_timed_out", "executions_throttled",
           "function_errors", "function_throttles", "dlq_messages")  # fmt: skip

TUNABLES: tuple[Tunable, ...] = (
    Tunable("schedule.expression", "cron(0 3 * * ? *)", "`cron(...)` (6 fields, one of day-of-month/day-of-week `?`) or `rate(N unit)`", "when EventBridge starts a run (UTC)", schedule_expression),
    _bool("schedule.enabled", True, "rule ENABLED / DISABLED"),
    Tunable("schedule.input", {}, "an execution input (checked as ListPages checks it)", "the input the schedule sends; `{}` means `default_source`", json_object),
    Tunable("default_source", {"pages": ["https://example.com/"]}, "exactly one of `{\"pages\": [...]}`, `{\"sitemap\": url}`, `{\"pages_s3\": \"s3://b/k\"}`", "what `{}` crawls", json_object, env.DEFAULT_SOURCE, (LIST_PAGES,), "json"),
    _int("max_concurrency", 10, 1, 40, "inline Map concurrency (lanes in flight)"),
    _int("distributed_max_concurrency", 100, 1, 10_000, "distributed Map child-execution concurrency"),
    _int("distributed_threshold", 500, 0, 1_000_000, "runs with more pages take the distributed Map (0: every run)", env=env.DISTRIBUTED_THRESHOLD, functions=(LIST_PAGES,)),
    _int("tolerated_failure_percentage", 10, 0, 100, "distributed Map: failed child executions tolerated"),
    _int("batch_size", 10, 1, 100, "pages per `CrawlBatch` invocation on the inline path", env=env.BATCH_SIZE, functions=(LIST_PAGES,)),
    _int("distributed_batch_size", 100, 1, 1000, "pages per `CrawlBatch` invocation on the distributed path: each invocation is a billed state transition, so bigger batches keep 100,000 pages under $0.10", env=env.DISTRIBUTED_BATCH_SIZE, functions=(LIST_PAGES,)),
    _int("max_pages", 100_000, 1, 1_000_000, "pages allowed in one run", env=env.MAX_PAGES, functions=(LIST_PAGES,)),
    _float("request_timeout", 10.0, 0.1, 300.0, "per-request deadline, s (at most half of `functions.crawl_batch.timeout_s`)", env=env.REQUEST_TIMEOUT, functions=FETCHING),
    Tunable("user_agent", "crawlmap/0.1 (+https://github.com/crawlmap/crawlmap)", "visible ASCII, inner spaces", "the crawler's User-Agent: put your contact URL in it", visible_ascii, env.USER_AGENT, FETCHING),
    _int("per_host_concurrency", 4, 1, 64, "requests in flight to one host, for the whole run", env=env.PER_HOST_CONCURRENCY, functions=FETCHING),
    _float("per_host_delay", 0.0, 0.0, 60.0, "seconds between request starts to one host, for the whole run", env=env.PER_HOST_DELAY, functions=FETCHING),
    _float("max_crawl_delay", 5.0, 0.0, 60.0, "cap on a robots.txt Crawl-delay, s", env=env.MAX_CRAWL_DELAY, functions=FETCHING),
    _float("max_retry_after", 30.0, 0.0, 900.0, "longest Retry-After a page waits for, s (longer: the host's pages fail)", env=env.MAX_RETRY_AFTER, functions=(CRAWL_BATCH,)),
    _int("max_redirects", 10, 0, 30, "redirects followed per request", env=env.MAX_REDIRECTS, functions=FETCHING),
    _int("max_body_bytes", 10 * 1024 * 1024, 1024, 100 * 1024 * 1024, "bytes read per response (decompressed)", env=env.MAX_BODY_BYTES, functions=FETCHING),
    _float("failure_ratio", 0.5, 0.0, 1.0, "above this share of failed pages the run ends in `RunFailed`"),
    Tunable("notification_email", None, "an e-mail address or null", "subscribed to the run and alarm topics", email_or_null),
    Tunable("log_retention_days", 30, "a CloudWatch Logs value (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)", "every log group", choice(*LOG_RETENTION_DAYS)),
    _choice("removal_policy", "retain", ("retain", "destroy"), "table, bucket, keys and log groups on stack deletion"),
    _choice("encryption", "aws_managed", ("aws_managed", "customer_managed"), "table encryption (`customer_managed` adds a KMS key with rotation)"),
    _bool("access_logs", False, "S3 server access logs into a second bucket"),
    *(
        tunable
        for name, (memory, timeout) in _FUNCTION_DEFAULTS.items()
        for tunable in (
            _int(f"functions.{name}.memory_mb", memory, 128, 10240, "memory, MB"),
            _int(f"functions.{name}.timeout_s", timeout, 1, 900, "timeout, s"),
            Tunable(f"functions.{name}.reserved_concurrency", None, "1..1000 or null", "reserved concurrency (null: the account's pool)", reserved_concurrency),
        )
    ),
    _choice("architecture", "arm64", ("arm64", "x86_64"), "Lambda architecture (and the wheel platform of the bundle)"),
    _bool("allow_private_networks", False, "let the crawler fetch private, loopback and link-local addresses", env=env.ALLOW_PRIVATE_NETWORKS, functions=FETCHING),
    _bool("obey_robots", True, "obey robots.txt", env=env.OBEY_ROBOTS, functions=FETCHING),
    Tunable("selectors", {}, "name -> CSS selector (`\"h2.price\"`, or `\"link[rel=next]@href\"` for an attribute)", "extra fields extracted per page", css_selectors, env.SELECTORS, (CRAWL_BATCH,), "json"),
    Tunable("tracking_params", [], "query parameter names", "removed from URLs before dedupe, on top of `utm_*`, `gclid`, `fbclid`, `msclkid`, `mc_cid`, `mc_eid`, `_ga`", query_parameter_names, env.TRACKING_PARAMS, (LIST_PAGES,), "csv"),
    _int("run_ttl_days", 90, 1, 3650, "TTL of per-run records and expiry of `runs/` objects in S3", env=env.RUN_TTL_DAYS, functions=(CRAWL_BATCH, STORE_AND_NOTIFY)),
    _int("alarms.period_minutes", 5, 1, 1440, "alarm evaluation period"),
    *(_int(f"alarms.{name}", 1, 1, 1_000_000, "the alarm fires at or above this value") for name in _ALARMS),
    _int("execution_timeout_minutes", 120, 1, 525_600, "the state machine's overall timeout; also how long a run holds the run lease (a run started while another holds it is skipped)", env=env.EXECUTION_TIMEOUT_MINUTES, functions=(LIST_PAGES,)),
    _bool("log_execution_data", False, "include execution data (page lists) in the state machine's logs"),
)  # fmt: skip
BY_KEY: Mapping[str, Tunable] = {tunable.key: tunable for tunable in TUNABLES}
BY_ENV: Mapping[str, Tunable] = {t.env: t for t in TUNABLES if t.env is not None}

# Variables the stack fills with resource names: required where listed (unless CRAWLMAP_SQLITE_PATH
# points the function at the local engine's SQLite store and console notifier).
REQUIRED_RESOURCES: Mapping[str, tuple[str, ...]] = {
    LIST_PAGES: (env.TABLE_NAME,),
    CRAWL_BATCH: (),
    STORE_AND_NOTIFY: (env.TABLE_NAME, env.TOPIC_ARN),
}


def tunable(key: str) -> Tunable:
    return BY_KEY[key]


def default(key: str) -> Any:
    """The default of one key (a fresh copy for lists and objects)."""
    value = BY_KEY[key].default
    return json.loads(json.dumps(value)) if isinstance(value, list | dict) else value


def int_range(key: str) -> tuple[int, int]:
    entry = BY_KEY[key]
    if entry.low is None or entry.high is None:
        raise KeyError(f"{key} has no numeric range")
    return int(entry.low), int(entry.high)


def context_defaults() -> dict[str, Any]:
    """The crawlmap object of cdk.json: every key with its default, nested by its path."""
    nested: dict[str, Any] = {}
    for entry in TUNABLES:
        *groups, leaf = entry.key.split(".")
        target = nested
        for group in groups:
            target = target.setdefault(group, {})
        target[leaf] = default(entry.key)
    return nested


# ---------------------------------------------------------------- the environment, both ways


def to_env(entry: Tunable, value: Any) -> str | None:
    """A validated value as its variable holds it (None: the variable is left out)."""
    if entry.codec == "bool":
        return "true" if value else "false"
    if entry.codec == "float":
        return f"{value:g}"
    if entry.codec == "json":
        return json.dumps(value, sort_keys=True)
    if entry.codec == "csv":
        return ",".join(value) or None
    return str(value)


def environment_for(function: str, values: Mapping[str, Any]) -> dict[str, str]:
    """The variables `function` gets for the validated values (key -> value)."""
    environment: dict[str, str] = {}
    for entry in TUNABLES:
        if entry.env is not None and function in entry.functions:
            encoded = to_env(entry, values[entry.key])
            if encoded is not None:
                environment[entry.env] = encoded
    return environment


def from_env(entry: Tunable, raw: str) -> Any:
    """A variable's text -> the value, checked as cdk.json's is; ConfigError names the variable."""
    name = entry.env or entry.key
    if not raw.strip():
        return default(entry.key)
    value: Any = raw.strip()
    if entry.codec == "int":
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(name, f"expected a whole number, got {raw!r}") from None
    elif entry.codec == "float":
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(name, f"expected a number, got {raw!r}") from None
    elif entry.codec == "bool":
        if value.lower() not in ("true", "false", "1", "0"):
            raise ConfigError(name, f"expected true or false, got {raw!r}")
        value = value.lower() in ("true", "1")
    elif entry.codec == "json":
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(name, f"not valid JSON ({exc.msg})") from None
    elif entry.codec == "csv":
        value = [part.strip() for part in raw.split(",") if part.strip()]
    elif entry.codec == "str":
        value = raw
    return entry.check(name, value)


def settings_values(environ: Mapping[str, str], function: str | None = None) -> dict[str, Any]:
    """key -> value of the variables `function` gets (every variable when None), checked.

    A function reads only its own variables: another function's bad value is not its problem.
    """
    values: dict[str, Any] = {}
    for entry in TUNABLES:
        if entry.env is None or (function is not None and function not in entry.functions):
            continue
        values[entry.key] = from_env(entry, environ.get(entry.env, ""))
    if function is not None and not environ.get(env.SQLITE_PATH, "").strip():
        for name in REQUIRED_RESOURCES[function]:
            if not environ.get(name, "").strip():
                raise ConfigError(
                    name, f"not set: the {function} function needs it (the stack sets it)"
                )
    return values


def readme_table() -> str:
    """The README's configuration table, one row per key."""
    rows = ["| key | default | allowed | variable (functions) | meaning |", "|---|---|---|---|---|"]
    for entry in TUNABLES:
        shown = json.dumps(entry.default) if not isinstance(entry.default, str) else entry.default
        where = f"`{entry.env}` ({', '.join(entry.functions)})" if entry.env else "stack only"
        rows.append(f"| `{entry.key}` | `{shown}` | {entry.allowed} | {where} | {entry.help} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(readme_table())
