"""The checks users already trust: cdk-nag, cfn-lint and asl-validator, run in the suite."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from statemachine.render import ASL_PATH
from tests.infra.conftest import Synthesized

REPO_ROOT = Path(__file__).resolve().parents[2]
# cfn-lint warnings we accept, with why:
ACCEPTED_CFN_LINT_WARNINGS = {
    # CDK adds an explicit DependsOn on a function's (and the state machine's) role next to
    # the GetAtt on it; redundant but harmless, and not removable from the L2 constructs.
    "W3005",
}


@pytest.mark.parametrize("variant_name", ["synthesized", "variant"])
def test_cdk_nag_reports_no_unacknowledged_finding(
    variant_name: str, request: pytest.FixtureRequest
) -> None:
    synthesized: Synthesized = request.getfixturevalue(variant_name)
    findings = [
        (violation["ruleName"], [c["constructPath"] for c in violation["violatingConstructs"]])
        for report in synthesized.nag_report.get("pluginReports", [])
        for violation in report["violations"]
    ]
    assert synthesized.nag_error is None, findings
    assert findings == []


def test_cdk_nag_ran_both_packs_and_every_acknowledgement_has_a_reason(
    synthesized: Synthesized,
) -> None:
    plugins = {report["pluginName"] for report in synthesized.nag_report["pluginReports"]}
    assert plugins == {"AwsSolutions", "Serverless"}
    acknowledged = [
        entry.data
        for construct in synthesized.stack.node.find_all()
        for entry in construct.node.metadata
        if entry.type == "aws:cdk:acknowledged-rules"
    ]
    assert acknowledged, "the stack acknowledges its known findings"
    for rules in acknowledged:
        for rule, reason in rules.items():
            assert isinstance(reason, str)
            assert len(reason) > 20, rule
            assert "\n" not in reason, rule


@pytest.mark.parametrize("variant_name", ["synthesized", "variant"])
def test_cfn_lint_reports_no_error_on_the_template(
    variant_name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from cfnlint.api import lint_all

    synthesized: Synthesized = request.getfixturevalue(variant_name)
    template = tmp_path / "template.json"
    template.write_text(json.dumps(synthesized.template_json))
    # lint_all also runs the informational (I) rules the CLI leaves out by default.
    matches = [m for m in lint_all(template.read_text()) if m.rule.id[0] in "EW"]
    problems = [
        f"{m.rule.id} {m.message}" for m in matches if m.rule.id not in ACCEPTED_CFN_LINT_WARNINGS
    ]
    assert problems == []
    assert not [m for m in matches if m.rule.id.startswith("E")]


def test_asl_validator_accepts_the_rendered_definition() -> None:
    validator = REPO_ROOT / "node_modules" / ".bin" / "asl-validator"
    if not validator.exists() or shutil.which("node") is None:
        pytest.fail("asl-validator is not installed: run `npm install` (make setup does)")
    result = subprocess.run(
        [str(validator), "--json-path", str(ASL_PATH)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is valid" in result.stdout
