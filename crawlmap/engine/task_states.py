"""What the engine reads off a definition's Task states: which state calls which function,
and whether a failed invocation will be retried (so its failure is not counted as final)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def retriers(definition: Mapping[str, Any]) -> dict[str, list[tuple[set[str], int]]]:
    """Task state name -> its Retry rules as (ErrorEquals, MaxAttempts)."""
    found: dict[str, list[tuple[set[str], int]]] = {}

    def walk(states: Mapping[str, Any]) -> None:
        for name, state in states.items():
            if state.get("Type") == "Task":
                found[name] = [
                    (set(rule.get("ErrorEquals", [])), int(rule.get("MaxAttempts", 3)))
                    for rule in state.get("Retry", [])
                ]
            for key in ("ItemProcessor", "Iterator"):
                if key in state:
                    walk(state[key].get("States", {}))

    walk(definition.get("States", {}))
    return found


def will_retry(rules: list[tuple[set[str], int]], error_type: str, retry_count: Any) -> bool:
    for errors, max_attempts in rules:
        if error_type in errors or "States.ALL" in errors or "States.TaskFailed" in errors:
            return isinstance(retry_count, int) and retry_count < max_attempts
    return False


def function_states(definition: Mapping[str, Any]) -> dict[str, str]:
    """Function ARN -> the name of the first Task state that invokes it."""
    found: dict[str, str] = {}

    def walk(states: Mapping[str, Any]) -> None:
        for name, state in states.items():
            if state.get("Type") == "Task":
                resource = str(state.get("Resource", ""))
                params = state.get("Parameters") or state.get("Arguments") or {}
                arn = params.get("FunctionName") if "lambda:invoke" in resource else resource
                if isinstance(arn, str):
                    arn = arn.split(":$")[0]
                    # A function called from two states (inline and distributed Map) is
                    # named by the shorter state name: "CrawlBatch", not "CrawlBatchDistributed".
                    if arn not in found or len(name) < len(found[arn]):
                        found[arn] = name
            for key in ("ItemProcessor", "Iterator"):
                if key in state:
                    walk(state[key].get("States", {}))
            for branch in state.get("Branches", []):
                walk(branch.get("States", {}))

    walk(definition.get("States", {}))
    return found
