"""Building the CDK app in-process: for app.py, the tests and the local engine.

`synth_template()` returns the CloudFormation template of the Crawlmap stack as a dict,
built from cdk.json's context (plus overrides) with asset bundling skipped (no pip, no
Docker): only the asset hash differs from `cdk synth`. Conventions the engine relies on:
exactly one AWS::StepFunctions::StateMachine whose DefinitionString is an Fn::Join of
strings, {"Fn::GetAtt": [<function>, "Arn"]} and {"Ref": <bucket>}; AWS::Lambda::Function
resources with Handler, MemorySize, Architectures and Environment.Variables.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stacks.config import CONTEXT_KEY, CrawlmapConfig, load_config, merge_overrides

if TYPE_CHECKING:
    from aws_cdk import App

    from stacks.crawlmap_stack import CrawlmapStack

REPO_ROOT = Path(__file__).resolve().parent.parent
CDK_JSON = REPO_ROOT / "cdk.json"
STACK_ID = "Crawlmap"
SKIP_BUNDLING: dict[str, list[str]] = {"aws:cdk:bundling-stacks": []}


def cdk_json_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads(CDK_JSON.read_text())["context"]
    return context


def context_with(context_overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """cdk.json's context with `context_overrides` deep-merged into the crawlmap object."""
    context = cdk_json_context()
    context[CONTEXT_KEY] = merge_overrides(context.get(CONTEXT_KEY, {}), context_overrides or {})
    return context


def add_crawlmap(app: App, config: CrawlmapConfig, *, nag: bool = True) -> CrawlmapStack:
    """The one place the stack is added to an app (with cdk-nag's packs when `nag`)."""
    from aws_cdk import Environment, Validations
    from cdk_nag import AwsSolutionsChecks, ServerlessChecks

    from stacks.crawlmap_stack import CrawlmapStack

    stack = CrawlmapStack(
        app,
        STACK_ID,
        config=config,
        env=Environment(
            account=os.environ.get("CDK_DEFAULT_ACCOUNT"),
            region=os.environ.get("CDK_DEFAULT_REGION"),
        ),
        description="crawlmap: scheduled fan-out web crawler on Step Functions",
    )
    if nag:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    return stack


def build_app(
    context_overrides: Mapping[str, Any] | None = None, *, nag: bool = False
) -> tuple[App, CrawlmapStack]:
    """An App with cdk.json's context (+ overrides), bundling skipped, and the stack in it."""
    from aws_cdk import App

    context = {**context_with(context_overrides), **SKIP_BUNDLING}
    app = App(context=context)
    return app, add_crawlmap(app, load_config(context), nag=nag)


def synth_template(
    context_overrides: Mapping[str, Any] | None = None, *, nag: bool = False
) -> dict[str, Any]:
    """The stack's CloudFormation template as a dict. Raises ConfigError on a bad value."""
    app, stack = build_app(context_overrides, nag=nag)
    template: dict[str, Any] = app.synth().get_stack_by_name(stack.stack_name).template
    return template
