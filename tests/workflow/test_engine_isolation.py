"""Isolation as on Lambda although every handler runs in one process: each invocation sees only
its own function's environment (from the template, plus what Lambda sets), and Powertools log
keys appended by one invocation stay on its own lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from crawlmap.engine.runner import EngineOptions, run_execution
from tests.workflow.templates import template_with

NAMES = ["ONLY_A", "ONLY_B", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "SET"]


def test_each_function_sees_only_its_own_environment(tmp_path: Path) -> None:
    definition = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Task", "Resource": "<fn:A>", "ResultPath": "$.a", "Next": "B"},
            "B": {"Type": "Task", "Resource": "<fn:B>", "ResultPath": "$.b", "End": True},
        },
    }
    handler = "tests.workflow.tiny_handlers.environment_view"
    template = template_with(definition, {"A": handler, "B": handler})
    resources: dict[str, Any] = template["Resources"]
    resources["A"]["Properties"]["Environment"]["Variables"].update(ONLY_A="a", SET="by A")
    resources["B"]["Properties"]["Environment"]["Variables"].update(ONLY_B="b", SET="by B")
    resources["B"]["Properties"]["MemorySize"] = 1024

    record = run_execution(
        {"names": NAMES}, EngineOptions(home=tmp_path / "home", template=template)
    )
    assert record.status == "SUCCEEDED", record.cause
    output = record.output
    assert isinstance(output, dict)
    a, b = output["a"], output["b"]
    assert (a["ONLY_A"], a["ONLY_B"], a["SET"]) == ("a", None, "by A")
    assert (b["ONLY_A"], b["ONLY_B"], b["SET"]) == (None, "b", "by B")
    assert a["AWS_LAMBDA_FUNCTION_NAME"] != b["AWS_LAMBDA_FUNCTION_NAME"]
    assert (a["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], b["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]) == (
        "256",
        "1024",
    )


def test_log_keys_stay_with_their_invocation(tmp_path: Path) -> None:
    definition = {
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 10,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Log",
                    "States": {"Log": {"Type": "Task", "Resource": "<fn:Log>", "End": True}},
                },
                "End": True,
            }
        },
    }
    template = template_with(definition, {"Log": "tests.workflow.tiny_handlers.keyed_log"})
    record = run_execution(
        {"items": [{"n": n} for n in range(20)]},
        EngineOptions(home=tmp_path / "home", template=template),
    )
    assert record.status == "SUCCEEDED", record.cause
    lines = [
        json.loads(line)
        for line in (record.run_dir / "logs.txt").read_text().splitlines()
        if '"logged"' in line
    ]
    assert len(lines) == 20
    assert all(line["item"] == line["expected_item"] for line in lines)
