"""Map the template's AWS resources to local ones and build the functions' environment.

- Lambda functions: run in-process by the adapter, under a local name and ARN.
- The S3 bucket(s): created in moto (in-memory S3) under their local name.
- Anything else (crawlmap: the DynamoDB table as SQLite, the SNS topic as a file): the
  application's hooks give the variables its handlers read (crawlmap/crawl_hooks.py).

Environment: each function sees its own Environment from the template (intrinsics resolved),
the local stand-ins above, the caller's overrides, and what Lambda sets for every function
(AWS_LAMBDA_FUNCTION_NAME, AWS_LAMBDA_FUNCTION_MEMORY_SIZE, AWS_REGION, ...):
`RunEnvironment.functions`; isolation/environment.py makes it the only environment its
invocations see, although they share one process. `variables` is the union, for the engine's
own use outside invocations (a variable two functions set differently is in `conflicts`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crawlmap.engine.errors import EngineError
from crawlmap.engine.template import (
    ACCOUNT_ID,
    PARTITION,
    REGION,
    FunctionSpec,
    resolve,
    state_machine_resource,
)

LOCAL_PREFIX = "crawlmap-local"


def _arn(service: str) -> str:
    return f"arn:{PARTITION}:{service}:{REGION}:{ACCOUNT_ID}"


def _slug(logical_id: str) -> str:
    return re.sub(r"[^a-z0-9-]", "-", logical_id.lower()).strip("-")


@dataclass(frozen=True)
class LocalResources:
    """Local physical names for the template's resources, and the intrinsic resolver on them."""

    template: Mapping[str, Any]

    def _type(self, logical_id: str) -> str:
        res = self.template.get("Resources", {}).get(logical_id)
        if res is None:
            raise EngineError(f"the template refers to an unknown resource {logical_id!r}")
        return str(res.get("Type", ""))

    def function_name(self, logical_id: str) -> str:
        return f"{LOCAL_PREFIX}-{logical_id}"[:64]

    def function_arn(self, logical_id: str) -> str:
        return f"{_arn('lambda')}:function:{self.function_name(logical_id)}"

    def bucket_name(self, logical_id: str) -> str:
        return f"{LOCAL_PREFIX}-{_slug(logical_id)}"[:63].rstrip("-")

    def table_name(self, logical_id: str) -> str:
        return f"{LOCAL_PREFIX}-{logical_id}"

    def topic_arn(self, logical_id: str) -> str:
        return f"arn:{PARTITION}:sns:{REGION}:{ACCOUNT_ID}:{LOCAL_PREFIX}-{logical_id}"

    def state_machine_name(self) -> str:
        logical_id, _ = state_machine_resource(self.template)
        return f"{LOCAL_PREFIX}-{logical_id}"[:80]

    def state_machine_arn(self) -> str:
        return (
            f"arn:{PARTITION}:states:{REGION}:{ACCOUNT_ID}:stateMachine:{self.state_machine_name()}"
        )

    def bucket_names(self) -> list[str]:
        return [
            self.bucket_name(lid)
            for lid, res in self.template.get("Resources", {}).items()
            if res.get("Type") == "AWS::S3::Bucket"
        ]

    def __call__(self, logical_id: str, attribute: str | None) -> str:
        """Resolve Ref (attribute None) or Fn::GetAtt on a resource of the template."""
        kind = self._type(logical_id)
        if kind == "AWS::Lambda::Function":
            return (
                self.function_name(logical_id)
                if attribute is None
                else self.function_arn(logical_id)
            )
        if kind == "AWS::S3::Bucket":
            name = self.bucket_name(logical_id)
            if attribute in (None, "BucketName"):
                return name
            if attribute == "Arn":
                return f"arn:{PARTITION}:s3:::{name}"
            return f"{name}.s3.{REGION}.amazonaws.com"
        if kind in ("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable"):
            name = self.table_name(logical_id)
            if attribute is None:
                return name
            return f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}"
        if kind == "AWS::SNS::Topic":
            arn = self.topic_arn(logical_id)
            return arn.rsplit(":", 1)[1] if attribute == "TopicName" else arn
        if kind == "AWS::StepFunctions::StateMachine":
            return self.state_machine_name() if attribute == "Name" else self.state_machine_arn()
        service = kind.split("::")[1].lower() if kind.count("::") == 2 else "unknown"
        return f"arn:{PARTITION}:{service}:{REGION}:{ACCOUNT_ID}:{logical_id}"


@dataclass(frozen=True)
class RunEnvironment:
    variables: dict[str, str]  # the union (the engine's own use)
    conflicts: list[str]
    functions: dict[str, dict[str, str]] = field(default_factory=dict)  # logical id -> its own


def lambda_variables(spec: FunctionSpec, resources: LocalResources) -> dict[str, str]:
    """What Lambda's runtime sets in every function's environment."""
    name = resources.function_name(spec.logical_id)
    return {
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "_HANDLER": spec.handler,
    }


def run_environment(
    functions: Mapping[str, FunctionSpec],
    resources: LocalResources,
    *,
    local: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> RunEnvironment:
    """Each function's environment and their union (see the module docstring). `local`: the
    stand-ins for the resources the engine does not run (from the hooks)."""
    local = dict(local or {})
    merged: dict[str, str] = {}
    conflicts: list[str] = []
    own: dict[str, dict[str, str]] = {}
    for logical_id, spec in functions.items():
        variables = {name: str(resolve(raw, resources)) for name, raw in spec.environment.items()}
        for name, value in variables.items():
            if name in merged and merged[name] != value:
                conflicts.append(f"{name}: {spec.logical_id} sets {value!r}, kept {merged[name]!r}")
                continue
            merged[name] = value
        # Later sources win: the template, the local stand-ins, the overrides, Lambda's own.
        own[logical_id] = {
            **variables,
            **local,
            **(overrides or {}),
            **lambda_variables(spec, resources),
        }
    merged.update(local)
    merged.update({"AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION})
    merged.update(overrides or {})
    return RunEnvironment(variables=merged, conflicts=conflicts, functions=own)
