"""Read the synthesized CloudFormation template: the state machine and the functions it calls.

The template is what `cdk synth` produces; synthesizing takes seconds (jsii), so it is cached
on disk, keyed by a hash of everything that shapes it. CloudFormation intrinsics in the
definition and in the functions' environments (Ref, Fn::GetAtt, Fn::Join, Fn::Sub) are
resolved against the local physical names the engine assigns to each resource.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crawlmap.engine.errors import EngineError

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
PARTITION = "aws"

# What shapes the synthesized template; a change in any of these invalidates the cache.
# lambdas/common holds the state names, retry rules and tunables table the synth reads.
_SYNTH_INPUTS = ("app.py", "cdk.json", "stacks", "statemachine", "lambdas/common")

Resolver = Callable[[str, str | None], str]  # (logical id, attribute or None for Ref) -> value


@dataclass(frozen=True)
class FunctionSpec:
    """One AWS::Lambda::Function of the template, as the engine needs it."""

    logical_id: str
    handler: str  # "lambdas.crawl_batch.handler.handler"
    memory_mb: int
    architecture: str  # "arm64" | "x86_64"
    timeout_s: float
    environment: Mapping[str, Any]  # raw values: strings or intrinsics, resolved by resources.py
    reserved_concurrency: int | None = None  # ReservedConcurrentExecutions (None: unreserved)


def project_root() -> Path:
    """The repository root: where app.py, cdk.json, stacks/ and lambdas/ live."""
    return Path(__file__).resolve().parents[2]


def synth_cache_key(root: Path, context_overrides: Mapping[str, Any]) -> str:
    digest = hashlib.sha256()
    for name in _SYNTH_INPUTS:
        path = root / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if file.suffix == ".pyc" or not file.exists():
                continue
            digest.update(str(file.relative_to(root)).encode())
            digest.update(file.read_bytes())
    digest.update(json.dumps(dict(context_overrides), sort_keys=True, default=str).encode())
    return digest.hexdigest()[:20]


def load_template(
    cache_dir: Path,
    context_overrides: Mapping[str, Any] | None = None,
    template_path: Path | None = None,
) -> dict[str, Any]:
    """The synthesized template: from `template_path` if given, else synthesized (cached)."""
    if template_path is not None:
        try:
            loaded: dict[str, Any] = json.loads(template_path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise EngineError(f"cannot read template {template_path}: {exc}") from None
        return loaded
    overrides = dict(context_overrides or {})
    root = project_root()
    cached = cache_dir / f"template-{synth_cache_key(root, overrides)}.json"
    try:
        cached_template: dict[str, Any] = json.loads(cached.read_text(encoding="utf-8"))
        if isinstance(cached_template, dict) and "Resources" in cached_template:
            return cached_template
    except (OSError, ValueError):
        pass  # not cached yet, unreadable or damaged: synthesize again

    try:
        from stacks.synth import synth_template
    except ImportError as exc:  # pragma: no cover - the project always ships stacks/
        raise EngineError(f"cannot synthesize the app: {exc}") from None
    template = synth_template(overrides)
    try:  # a per-process temporary name: concurrent synths in other folders race safely
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(template), encoding="utf-8")
        tmp.replace(cached)
    except OSError:
        pass  # an unwritable cache costs the next run a synth, nothing else
    return template


def resources_of_type(template: Mapping[str, Any], type_name: str) -> dict[str, dict[str, Any]]:
    resources: Mapping[str, Any] = template.get("Resources", {})
    return {lid: res for lid, res in resources.items() if res.get("Type") == type_name}


def state_machine_resource(template: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    machines = resources_of_type(template, "AWS::StepFunctions::StateMachine")
    if len(machines) != 1:
        raise EngineError(
            f"expected exactly one state machine in the template, found {len(machines)}"
        )
    return next(iter(machines.items()))


def function_specs(template: Mapping[str, Any]) -> dict[str, FunctionSpec]:
    """Every Lambda function with a Python handler, by logical id."""
    specs: dict[str, FunctionSpec] = {}
    for logical_id, res in resources_of_type(template, "AWS::Lambda::Function").items():
        props = res.get("Properties", {})
        handler = props.get("Handler")
        if not isinstance(handler, str):
            continue  # CDK's own helper functions (custom resources) are not ours to run
        archs = props.get("Architectures") or ["x86_64"]
        specs[logical_id] = FunctionSpec(
            logical_id=logical_id,
            handler=handler,
            memory_mb=int(props.get("MemorySize", 128)),
            architecture=str(archs[0]),
            timeout_s=float(props.get("Timeout", 3)),
            environment=dict(props.get("Environment", {}).get("Variables", {})),
            reserved_concurrency=_reserved(props.get("ReservedConcurrentExecutions")),
        )
    return specs


def _reserved(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise EngineError(f"ReservedConcurrentExecutions must be a number, not {value!r}") from None


_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


def resolve(value: Any, resolver: Resolver) -> Any:
    """Resolve CloudFormation intrinsics in `value` (recursively) to plain JSON."""
    if isinstance(value, list):
        return [resolve(v, resolver) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return _pseudo(arg) or resolver(arg, None)
        if key == "Fn::GetAtt":
            logical_id, attr = arg if isinstance(arg, list) else arg.split(".", 1)
            return resolver(logical_id, attr)
        if key == "Fn::Join":
            sep, parts = arg
            return sep.join(str(resolve(p, resolver)) for p in parts)
        if key == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else arg
            bound = {k: str(resolve(v, resolver)) for k, v in variables.items()}

            def substitute(match: re.Match[str]) -> str:
                name = match.group(1)
                if name in bound:
                    return bound[name]
                if "." in name:
                    logical_id, attr = name.split(".", 1)
                    return resolver(logical_id, attr)
                return _pseudo(name) or resolver(name, None)

            return _SUB_VAR.sub(substitute, text)
        if key.startswith("Fn::"):
            raise EngineError(f"the local engine cannot resolve {key} in the template")
    return {k: resolve(v, resolver) for k, v in value.items()}


def _pseudo(name: str) -> str | None:
    return {
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Partition": PARTITION,
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::StackName": "crawlmap-local",
    }.get(name)


def definition_of(template: Mapping[str, Any], resolver: Resolver) -> dict[str, Any]:
    """The state machine definition with every intrinsic resolved, as a dict."""
    _, machine = state_machine_resource(template)
    props = machine.get("Properties", {})
    raw = props.get("DefinitionString")
    if raw is None and "Definition" in props:
        return dict(resolve(props["Definition"], resolver))
    text = resolve(raw, resolver)
    if not isinstance(text, str):
        raise EngineError("the state machine's DefinitionString did not resolve to a string")
    definition: dict[str, Any] = json.loads(text)
    return definition
