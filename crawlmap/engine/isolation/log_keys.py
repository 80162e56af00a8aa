"""Powertools log keys per invocation.

Powertools' `logger.append_keys(...)` updates a dict on the logger's formatter: one per
process. On Lambda that is one per invocation at a time; locally concurrent invocations share
the process, so one batch's `batch_id` appeared on another's log lines. While a run is active
the formatter's `log_format` is the current invocation's own copy (a contextvar the adapter
sets), started from the formatter's keys as they were before any invocation; outside an
invocation it is the formatter's own. Checked against aws-lambda-powertools 3.x
(LambdaPowertoolsFormatter keeps its keys in `self.log_format`).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

_current: contextvars.ContextVar[dict[int, dict[str, Any]] | None] = contextvars.ContextVar(
    "crawlmap_invocation_log_keys", default=None
)
_BASE = "_crawlmap_base_log_format"


class _PerInvocationLogFormat:
    """A data descriptor standing in for the formatter's `log_format` attribute."""

    def __get__(self, formatter: Any, owner: type | None = None) -> Any:
        if formatter is None:
            return self
        base: dict[str, Any] = formatter.__dict__.setdefault(_BASE, {})
        own = _current.get()
        if own is None:
            return base
        keys = own.get(id(formatter))
        if keys is None:
            keys = own[id(formatter)] = dict(base)
        return keys

    def __set__(self, formatter: Any, value: dict[str, Any]) -> None:
        own = _current.get()
        if own is None:
            formatter.__dict__[_BASE] = value
        else:
            own[id(formatter)] = value


def _formatter_class() -> type | None:
    try:
        from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
    except ImportError:  # the handlers do not use Powertools: nothing to isolate
        return None
    return LambdaPowertoolsFormatter


def install() -> None:
    """Make every Powertools formatter's keys per invocation (idempotent, process-wide)."""
    cls = _formatter_class()
    if cls is None or isinstance(cls.__dict__.get("log_format"), _PerInvocationLogFormat):
        return
    cls.log_format = _PerInvocationLogFormat()  # type: ignore[attr-defined]
    # Formatters made before this keep their keys: move them to where the descriptor reads.
    import gc

    for obj in gc.get_objects():
        if isinstance(obj, cls) and "log_format" in obj.__dict__:
            obj.__dict__[_BASE] = obj.__dict__.pop("log_format")


@contextlib.contextmanager
def invocation_log_keys() -> Iterator[None]:
    token = _current.set({})
    try:
        yield
    finally:
        _current.reset(token)
