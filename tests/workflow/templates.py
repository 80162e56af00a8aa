"""Build small CloudFormation templates in the shape `cdk synth` gives, for engine tests."""

import json
from collections.abc import Mapping
from typing import Any

BUCKET = "ArtifactsBucket"


def template_with(
    definition: Mapping[str, Any],
    handlers: Mapping[str, str],
    *,
    environment: Mapping[str, Any] | None = None,
    timeout_s: float = 30,
) -> dict[str, Any]:
    """A template whose state machine runs `definition`.

    In the definition, the string "<fn:LogicalId>" stands for that function's ARN and "<bucket>"
    for the bucket's name; they become Fn::GetAtt / Ref in a Fn::Join, as CDK renders them.
    """
    text = json.dumps(definition)
    parts: list[Any] = []
    rest = text
    while "<" in rest:
        head, _, tail = rest.partition("<")
        token, _, rest = tail.partition(">")
        parts.append(head)
        if token.startswith("fn:"):
            parts.append({"Fn::GetAtt": [token[3:], "Arn"]})
        elif token == "bucket":
            parts.append({"Ref": BUCKET})
        else:
            parts.append(f"<{token}>")
    parts.append(rest)
    resources: dict[str, Any] = {
        BUCKET: {"Type": "AWS::S3::Bucket", "Properties": {}},
        "StateMachine": {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {"DefinitionString": {"Fn::Join": ["", parts]}},
        },
    }
    for logical_id, handler in handlers.items():
        resources[logical_id] = {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Handler": handler,
                "MemorySize": 256,
                "Architectures": ["arm64"],
                "Timeout": timeout_s,
                "Environment": {
                    "Variables": {"TINY_BUCKET": {"Ref": BUCKET}, **(environment or {})}
                },
            },
        }
    return {"Resources": resources}


def concrete(definition: Mapping[str, Any]) -> dict[str, Any]:
    """The definition with its placeholders replaced by plain ARNs (for moto on its own)."""
    text = json.dumps(definition)
    while "<fn:" in text:
        head, _, tail = text.partition("<fn:")
        name, _, text = tail.partition(">")
        text = f"{head}arn:aws:lambda:us-east-1:123456789012:function:{name}{text}"
    result: dict[str, Any] = json.loads(text.replace("<bucket>", "tiny-bucket"))
    return result
