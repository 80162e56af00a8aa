"""Speed 7d: the interpreter deep-copies every state's input, result, parameters and stack.

Checked against moto 5.2.5: copy.deepcopy's memo bookkeeping made it ~20% of the CPU of a
one-page-per-child distributed Map (bench/fanout_speedup.py). Those values are JSON (dicts,
lists, atoms), so the engine copies them with a plain JSON-tree copy (anything else still goes
through copy.deepcopy).
"""

from __future__ import annotations

import copy
import importlib
from typing import Any

# moto modules whose copy.deepcopy calls copy JSON values (state data, stacks, parameters).
JSON_COPYING_MODULES = (
    "moto.stepfunctions.parser.asl.eval.states",
    "moto.stepfunctions.parser.asl.eval.environment",
    "moto.stepfunctions.parser.asl.eval.event.event_manager",
    "moto.stepfunctions.parser.asl.component.common.string.string_expression",
    "moto.stepfunctions.parser.asl.component.common.path.result_path",
    "moto.stepfunctions.parser.asl.component.state.exec.execute_state",
    "moto.stepfunctions.parser.asl.component.state.exec.state_map.state_map",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service",
)
_ATOMS = frozenset({str, int, float, bool, type(None)})


def json_copy(value: Any) -> Any:
    """A deep copy of a JSON tree (dict, list, str, numbers, bool, None) without
    copy.deepcopy's memo; any other object inside is copied by copy.deepcopy."""
    kind = type(value)
    # Leaves (most of a tree's nodes) are taken as they are, without a call each.
    if kind is dict:
        return {k: v if type(v) in _ATOMS else json_copy(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _ATOMS else json_copy(v) for v in value]
    if kind in _ATOMS:
        return value
    return copy.deepcopy(value)


class _JsonCopyModule:
    """Stands in for the `copy` module inside moto's interpreter: deepcopy is json_copy."""

    deepcopy = staticmethod(json_copy)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def install() -> None:
    for name in JSON_COPYING_MODULES:
        module = importlib.import_module(name)
        if getattr(module, "copy", None) is copy:
            module.copy = _JsonCopyModule()  # type: ignore[attr-defined]
