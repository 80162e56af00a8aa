"""Typed settings read from the environment once per cold start (never at import time).

Each field that is a tunable takes its default, variable, range and check from
lambdas/common/tunables.py. `Settings.from_env(function=...)` reads and checks only the variables
that function receives, and fails at once, naming the variable, when one is bad or a resource the
function needs (its table, its topic) is not set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lambdas.common import env, tunables
from lambdas.common.tunables import default

DEFAULT_USER_AGENT: str = default("user_agent")


@dataclass(frozen=True)
class Settings:
    # resources the stack names (the local engine maps them to moto / SQLite)
    table_name: str = ""
    bucket_name: str = ""
    topic_arn: str = ""
    # tunables (lambdas/common/tunables.py)
    batch_size: int = default("batch_size")
    distributed_batch_size: int = default("distributed_batch_size")
    max_pages: int = default("max_pages")
    default_source: Mapping[str, Any] = field(default_factory=dict)  # unset: the input names one
    distributed_threshold: int = default("distributed_threshold")
    run_ttl_days: int = default("run_ttl_days")
    execution_timeout_minutes: int = default("execution_timeout_minutes")
    request_timeout: float = default("request_timeout")
    user_agent: str = DEFAULT_USER_AGENT
    allow_private_networks: bool = default("allow_private_networks")
    obey_robots: bool = default("obey_robots")
    max_redirects: int = default("max_redirects")
    max_body_bytes: int = default("max_body_bytes")
    per_host_concurrency: int = default("per_host_concurrency")
    per_host_delay: float = default("per_host_delay")
    max_crawl_delay: float = default("max_crawl_delay")
    max_retry_after: float = default("max_retry_after")
    selectors: Mapping[str, str] = field(default_factory=dict)
    tracking_params: tuple[str, ...] = ()
    # local engine only
    sqlite_path: str = ""
    notify_file: str = ""

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, function: str | None = None
    ) -> Settings:
        """The settings of `function` (list_pages, crawl_batch, store_and_notify) from environ.

        Only that function's variables are read; the others keep their defaults. Without a
        function every variable is read and nothing is required (tests, tools).
        """
        e = os.environ if environ is None else environ
        if function is not None and function not in tunables.FUNCTION_NAMES:
            raise ValueError(f"unknown function {function!r}")
        values = tunables.settings_values(e, function)
        if env.DEFAULT_SOURCE not in e or not e[env.DEFAULT_SOURCE].strip():
            values.pop("default_source", None)  # unset: no default source, not the example one
        if "tracking_params" in values:
            values["tracking_params"] = tuple(values["tracking_params"])
        return cls(
            table_name=e.get(env.TABLE_NAME, ""),
            bucket_name=e.get(env.BUCKET_NAME, ""),
            topic_arn=e.get(env.TOPIC_ARN, ""),
            sqlite_path=e.get(env.SQLITE_PATH, ""),
            notify_file=e.get(env.NOTIFY_FILE, ""),
            **values,
        )
