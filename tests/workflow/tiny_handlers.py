"""Tiny Lambda handlers for engine tests that must not depend on the real crawler."""

from typing import Any


class TinyError(Exception):
    """Raised on request, to see how the engine reports a handler's exception."""


def echo(event: Any, context: Any) -> Any:
    return {"event": event, "function_name": context.function_name}


def fail_if_asked(event: Any, context: Any) -> Any:
    if isinstance(event, dict) and event.get("fail"):
        raise TinyError(f"asked to fail: {event.get('fail')}")
    return event


def nothing(event: Any, context: Any) -> Any:
    return {}
