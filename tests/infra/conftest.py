"""Session fixtures: synthesizing is slow (jsii), so each configuration is synthesized once.

`synthesized` is the default configuration from cdk.json; `variant` flips every optional
feature (x86_64, customer-managed key, e-mail, access logs, destroy, disabled schedule,
reserved concurrency). Both run cdk-nag during synthesis and keep its report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from stacks.crawlmap_stack import CrawlmapStack
from stacks.synth import build_app
from statemachine.render import state_machine_definition_parts

VARIANT_OVERRIDES: dict[str, Any] = {
    "architecture": "x86_64",
    "encryption": "customer_managed",
    "notification_email": "ops@example.com",
    "access_logs": True,
    "removal_policy": "destroy",
    "schedule": {"enabled": False, "input": {"sitemap": "https://example.com/sitemap.xml"}},
    "functions": {"crawl_batch": {"reserved_concurrency": 20}},
    "max_concurrency": 25,
    "distributed_max_concurrency": 500,
    "tolerated_failure_percentage": 5,
    "failure_ratio": 0.2,
    "log_retention_days": 90,
    "alarms": {"function_errors": 3, "period_minutes": 15},
    "tracking_params": ["ref", "session_id"],
}


@dataclass(frozen=True)
class Synthesized:
    app: App
    stack: CrawlmapStack
    template: Template
    template_json: dict[str, Any]
    template_path: Path
    nag_error: str | None  # the synthesis error message when cdk-nag failed it
    nag_report: dict[str, Any]

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.template_json["Resources"].items()
            if resource["Type"] == resource_type
        }

    def definition(self) -> dict[str, Any]:
        """The state machine definition with references written as <LogicalId>."""
        text = "".join(
            part
            if isinstance(part, str)
            else "<" + (part["Fn::GetAtt"][0] if "Fn::GetAtt" in part else part["Ref"]) + ">"
            for part in state_machine_definition_parts(self.template_json)
        )
        definition: dict[str, Any] = json.loads(text)
        return definition


def _synthesize(overrides: dict[str, Any] | None) -> Synthesized:
    app, stack = build_app(overrides, nag=True)
    nag_error = None
    try:
        assembly = app.synth()
    except RuntimeError as error:  # jsii surfaces the validation failure as RuntimeError
        nag_error = str(error)
        assembly = None
    outdir = Path(app.outdir)
    report_path = outdir / "validation-report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    if assembly is not None:
        template_json = assembly.get_stack_by_name(stack.stack_name).template
    else:
        template_json = json.loads((outdir / f"{stack.artifact_id}.template.json").read_text())
    return Synthesized(
        app=app,
        stack=stack,
        template=Template.from_json(template_json),
        template_json=template_json,
        template_path=outdir / f"{stack.artifact_id}.template.json",
        nag_error=nag_error,
        nag_report=report,
    )


@pytest.fixture(scope="session")
def synthesized() -> Synthesized:
    return _synthesize(None)


@pytest.fixture(scope="session")
def variant() -> Synthesized:
    return _synthesize(VARIANT_OVERRIDES)


@pytest.fixture(scope="session")
def template(synthesized: Synthesized) -> Template:
    return synthesized.template
