"""Write statemachine/crawl.asl.json: the definition the stack synthesizes, readable on its own.

    python -m statemachine.render

Function ARNs and the bucket name become named placeholders (${ListPagesFunctionArn},
${ArtifactsBucketName}, ...); the partition is written as "aws". tests/infra/test_asl_drift.py
fails when the file no longer matches what the stack synthesizes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ASL_PATH = Path(__file__).resolve().parent / "crawl.asl.json"
RENDER_COMMAND = "python -m statemachine.render"


class RenderError(ValueError):
    """The template does not hold the state machine in the shape render expects."""


def state_machine_definition_parts(template: Mapping[str, Any]) -> list[Any]:
    machines = [
        resource
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    if len(machines) != 1:
        raise RenderError(f"expected one AWS::StepFunctions::StateMachine, found {len(machines)}")
    definition = machines[0]["Properties"]["DefinitionString"]
    if isinstance(definition, str):
        return [definition]
    separator, parts = definition["Fn::Join"]
    if separator != "":
        raise RenderError("DefinitionString joins with a separator")
    return list(parts)


def render_definition(
    template: Mapping[str, Any], placeholders: Mapping[str, str]
) -> dict[str, Any]:
    """The ASL with each {"Fn::GetAtt": [id, "Arn"]} / {"Ref": id} replaced by placeholders[id]."""
    text = []
    for part in state_machine_definition_parts(template):
        if isinstance(part, str):
            text.append(part)
        elif part == {"Ref": "AWS::Partition"}:
            text.append("aws")
        else:
            logical_id = part["Fn::GetAtt"][0] if "Fn::GetAtt" in part else part.get("Ref")
            if logical_id not in placeholders:
                raise RenderError(f"no placeholder for {json.dumps(part)}")
            text.append("${" + placeholders[logical_id] + "}")
    definition: dict[str, Any] = json.loads("".join(text))
    return definition


def to_text(definition: Mapping[str, Any]) -> str:
    return json.dumps(definition, indent=2, ensure_ascii=False) + "\n"


def synthesized_definition() -> dict[str, Any]:
    """The definition of the stack synthesized with cdk.json's default configuration."""
    from stacks.nag import logical_id
    from stacks.synth import build_app

    app, stack = build_app()
    template = app.synth().get_stack_by_name(stack.stack_name).template
    placeholders = {
        logical_id(function): f"{name}FunctionArn"
        for name, function in stack.functions.by_state_name.items()
    }
    placeholders[logical_id(stack.storage.bucket)] = "ArtifactsBucketName"
    return render_definition(template, placeholders)


def main() -> int:
    ASL_PATH.write_text(to_text(synthesized_definition()))
    print(f"wrote {ASL_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
