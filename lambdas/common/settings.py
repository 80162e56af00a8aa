"""Typed settings read from the environment once per cold start (never at import time)."""

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lambdas.common import env
from lambdas.common.errors import ConfigError

DEFAULT_USER_AGENT = "crawlmap/0.1 (+https://github.com/crawlmap/crawlmap)"


def _get(environ: Mapping[str, str], key: str, default: str) -> str:
    value = environ.get(key, "")
    return value if value.strip() else default


def _int(environ: Mapping[str, str], key: str, default: int, low: int, high: int) -> int:
    raw = _get(environ, key, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(key, f"expected a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(key, f"must be between {low} and {high}, got {value}")
    return value


def _float(environ: Mapping[str, str], key: str, default: float, low: float, high: float) -> float:
    raw = _get(environ, key, str(default))
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(key, f"expected a number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(key, f"must be between {low} and {high}, got {value}")
    return value


def _bool(environ: Mapping[str, str], key: str, default: bool) -> bool:
    raw = _get(environ, key, "true" if default else "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise ConfigError(key, f"expected true or false, got {raw!r}")
    return raw in ("true", "1")


def _json(environ: Mapping[str, str], key: str, default: Any) -> Any:
    raw = environ.get(key, "")
    if not raw.strip():
        return default
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(key, f"not valid JSON ({exc.msg})") from None


@dataclass(frozen=True)
class Settings:
    table_name: str = ""
    bucket_name: str = ""
    topic_arn: str = ""
    batch_size: int = 10
    distributed_batch_size: int = 100
    max_pages: int = 100_000
    default_source: Mapping[str, Any] = field(default_factory=dict)
    distributed_threshold: int = 500
    run_ttl_days: int = 90
    request_timeout: float = 10.0
    user_agent: str = DEFAULT_USER_AGENT
    allow_private_networks: bool = False
    obey_robots: bool = True
    max_redirects: int = 10
    max_body_bytes: int = 10 * 1024 * 1024
    per_host_concurrency: int = 4
    per_host_delay: float = 0.0
    max_crawl_delay: float = 5.0
    max_retry_after: float = 30.0
    selectors: Mapping[str, str] = field(default_factory=dict)
    tracking_params: tuple[str, ...] = ()
    sqlite_path: str = ""
    notify_file: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        e = os.environ if environ is None else environ
        selectors = _json(e, env.SELECTORS, {})
        if not isinstance(selectors, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in selectors.items()
        ):
            raise ConfigError(env.SELECTORS, "must be a JSON object of name -> CSS selector")
        source = _json(e, env.DEFAULT_SOURCE, {})
        if not isinstance(source, dict):
            raise ConfigError(env.DEFAULT_SOURCE, "must be a JSON object")
        tracking = tuple(p.strip() for p in e.get(env.TRACKING_PARAMS, "").split(",") if p.strip())
        return cls(
            table_name=e.get(env.TABLE_NAME, ""),
            bucket_name=e.get(env.BUCKET_NAME, ""),
            topic_arn=e.get(env.TOPIC_ARN, ""),
            batch_size=_int(e, env.BATCH_SIZE, 10, 1, 100),
            distributed_batch_size=_int(e, env.DISTRIBUTED_BATCH_SIZE, 100, 1, 1000),
            max_pages=_int(e, env.MAX_PAGES, 100_000, 1, 1_000_000),
            default_source=source,
            # 0 sends every run down the distributed path, as cdk.json and the input allow
            distributed_threshold=_int(e, env.DISTRIBUTED_THRESHOLD, 500, 0, 1_000_000),
            run_ttl_days=_int(e, env.RUN_TTL_DAYS, 90, 1, 3650),
            request_timeout=_float(e, env.REQUEST_TIMEOUT, 10.0, 0.1, 300.0),
            user_agent=_get(e, env.USER_AGENT, DEFAULT_USER_AGENT),
            allow_private_networks=_bool(e, env.ALLOW_PRIVATE_NETWORKS, False),
            obey_robots=_bool(e, env.OBEY_ROBOTS, True),
            max_redirects=_int(e, env.MAX_REDIRECTS, 10, 0, 30),
            max_body_bytes=_int(e, env.MAX_BODY_BYTES, 10 * 1024 * 1024, 1024, 100 * 1024 * 1024),
            per_host_concurrency=_int(e, env.PER_HOST_CONCURRENCY, 4, 1, 64),
            per_host_delay=_float(e, env.PER_HOST_DELAY, 0.0, 0.0, 60.0),
            max_crawl_delay=_float(e, env.MAX_CRAWL_DELAY, 5.0, 0.0, 60.0),
            max_retry_after=_float(e, env.MAX_RETRY_AFTER, 30.0, 0.0, 900.0),
            selectors=selectors,
            tracking_params=tracking,
            sqlite_path=e.get(env.SQLITE_PATH, ""),
            notify_file=e.get(env.NOTIFY_FILE, ""),
        )
