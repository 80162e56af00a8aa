"""Least privilege, read from the synthesized template.

Wildcards exist only where AWS requires them; each one is listed in ALLOWED_WILDCARDS with why.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from stacks.nag import logical_id
from tests.infra.conftest import Synthesized

# (action prefix, resource pattern) pairs where a wildcard resource is unavoidable:
ALLOWED_WILDCARDS = {
    # X-Ray and CloudWatch Logs vended delivery accept only "*".
    ("xray:", "*"),
    ("logs:CreateLogDelivery", "*"), ("logs:GetLogDelivery", "*"),
    ("logs:UpdateLogDelivery", "*"), ("logs:DeleteLogDelivery", "*"),
    ("logs:ListLogDeliveries", "*"), ("logs:PutResourcePolicy", "*"),
    ("logs:DescribeResourcePolicies", "*"), ("logs:DescribeLogGroups", "*"),
    # Object keys carry the run id (known at run time): limited to a prefix of our bucket.
    ("s3:", "/runs/*"), ("s3:", "/page-lists/*"),
    ("s3:", "/runs/*/lanes/*"), ("s3:", "/runs/*/results/*"),
    # Child execution ids are generated at run time: limited to this state machine.
    ("states:", ":*"),
}  # fmt: skip


def _statements(synthesized: Synthesized, principal_role_id: str) -> list[dict[str, Any]]:
    """All statements of the policies attached to one role."""
    statements = []
    for policy in synthesized.resources("AWS::IAM::Policy").values():
        roles = [role["Ref"] for role in policy["Properties"].get("Roles", [])]
        if principal_role_id in roles:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    role = synthesized.template_json["Resources"][principal_role_id]
    assert "ManagedPolicyArns" not in role["Properties"]
    assert "Policies" not in role["Properties"]
    return statements


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _grants(statements: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """{(action, resource rendered as text)} for every Allow statement."""
    grants = set()
    for statement in statements:
        assert statement["Effect"] == "Allow"
        for action in _as_list(statement["Action"]):
            for resource in _as_list(statement["Resource"]):
                grants.add(
                    (action, resource if isinstance(resource, str) else json.dumps(resource))
                )
    return grants


def _role_id(synthesized: Synthesized, name: str) -> str:
    function = synthesized.stack.functions.by_state_name[name]
    assert function.role is not None
    return logical_id(function.role)


def _actions(grants: set[tuple[str, str]]) -> set[str]:
    return {action for action, _ in grants}


def test_no_wildcard_action_anywhere(synthesized: Synthesized) -> None:
    for policy in synthesized.resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            for action in _as_list(statement["Action"]):
                assert "*" not in action, action


@pytest.mark.parametrize("variant_name", ["synthesized", "variant"])
def test_wildcard_resources_only_where_aws_requires_them(
    variant_name: str, request: pytest.FixtureRequest
) -> None:
    synthesized: Synthesized = request.getfixturevalue(variant_name)
    for policy in synthesized.resources("AWS::IAM::Policy").values():
        for action, resource in _grants(policy["Properties"]["PolicyDocument"]["Statement"]):
            if "*" not in resource:
                continue
            assert any(
                action.startswith(prefix) and resource.rstrip('"]}').endswith(ending)
                for prefix, ending in ALLOWED_WILDCARDS
            ), (action, resource)


def test_crawl_batch_reads_batches_writes_results_and_host_notes_only(
    synthesized: Synthesized,
) -> None:
    grants = _grants(_statements(synthesized, _role_id(synthesized, "CrawlBatch")))
    stack = synthesized.stack
    table = json.dumps({"Fn::GetAtt": [logical_id(stack.storage.table), "Arn"]})
    bucket_arn = {"Fn::GetAtt": [logical_id(stack.storage.bucket), "Arn"]}
    assert grants - {g for g in grants if g[0].startswith(("logs:", "xray:"))} == {
        ("dynamodb:BatchGetItem", table),  # the run's host notes
        ("dynamodb:PutItem", table),  # a back-off for the run (conditional)
        ("s3:GetObject", json.dumps({"Fn::Join": ["", [bucket_arn, "/runs/*/lanes/*"]]})),
        ("s3:PutObject", json.dumps({"Fn::Join": ["", [bucket_arn, "/runs/*/results/*"]]})),
    }
    assert {a for a in _actions(grants) if a.startswith(("logs:", "xray:"))} == {
        "logs:CreateLogStream", "logs:PutLogEvents",  # its own log group
        "xray:PutTraceSegments", "xray:PutTelemetryRecords",  # active tracing
    }  # fmt: skip
    log_group = logical_id(synthesized.stack.functions.node.find_child("CrawlBatchLogs"))
    assert ("logs:PutLogEvents", json.dumps({"Fn::GetAtt": [log_group, "Arn"]})) in grants


def test_crawl_batch_environment_names_the_table_and_bucket(synthesized: Synthesized) -> None:
    stack = synthesized.stack
    function = synthesized.template_json["Resources"][logical_id(stack.functions.crawl_batch)]
    variables = function["Properties"]["Environment"]["Variables"]
    assert variables["CRAWLMAP_TABLE_NAME"] == {"Ref": logical_id(stack.storage.table)}
    assert variables["CRAWLMAP_BUCKET_NAME"] == {"Ref": logical_id(stack.storage.bucket)}


def test_list_pages_reads_the_table_and_page_lists_and_writes_batches(
    synthesized: Synthesized,
) -> None:
    grants = _grants(_statements(synthesized, _role_id(synthesized, "ListPages")))
    table = json.dumps({"Fn::GetAtt": [logical_id(synthesized.stack.storage.table), "Arn"]})
    data_plane = {g for g in grants if not g[0].startswith(("logs:", "xray:"))}
    bucket_arn = {"Fn::GetAtt": [logical_id(synthesized.stack.storage.bucket), "Arn"]}
    assert data_plane == {
        ("dynamodb:GetItem", table),
        ("dynamodb:BatchGetItem", table),
        ("dynamodb:Query", table),
        ("dynamodb:PutItem", table),  # the run lease only (test below)
        ("dynamodb:DeleteItem", table),  # the run lease only
        ("s3:GetObject", json.dumps({"Fn::Join": ["", [bucket_arn, "/page-lists/*"]]})),
        ("s3:PutObject", json.dumps({"Fn::Join": ["", [bucket_arn, "/runs/*"]]})),
    }


def test_store_and_notify_writes_the_table_reads_results_and_publishes(
    synthesized: Synthesized,
) -> None:
    grants = _grants(_statements(synthesized, _role_id(synthesized, "StoreAndNotify")))
    stack = synthesized.stack
    table = json.dumps({"Fn::GetAtt": [logical_id(stack.storage.table), "Arn"]})
    topic = json.dumps({"Ref": logical_id(stack.notifications.run_topic)})
    key = json.dumps({"Fn::GetAtt": [logical_id(stack.notifications.key), "Arn"]})
    bucket_arn = {"Fn::GetAtt": [logical_id(stack.storage.bucket), "Arn"]}
    data_plane = {g for g in grants if not g[0].startswith(("logs:", "xray:"))}
    assert data_plane == {
        ("dynamodb:BatchWriteItem", table),
        ("dynamodb:PutItem", table),
        ("dynamodb:UpdateItem", table),
        ("dynamodb:GetItem", table),
        ("dynamodb:BatchGetItem", table),
        ("dynamodb:Query", table),
        ("dynamodb:DeleteItem", table),  # the run lease only (test below)
        ("s3:GetObject", json.dumps({"Fn::Join": ["", [bucket_arn, "/runs/*"]]})),
        ("s3:ListBucket", json.dumps(bucket_arn)),
        ("sns:Publish", topic),
        ("kms:GenerateDataKey", key),
        ("kms:Decrypt", key),
    }


@pytest.mark.parametrize(
    ("function", "lease_actions"),
    [
        ("ListPages", {"dynamodb:PutItem", "dynamodb:DeleteItem"}),
        ("StoreAndNotify", {"dynamodb:DeleteItem"}),
    ],
)
def test_the_run_lease_grants_reach_the_lease_item_only(
    synthesized: Synthesized, function: str, lease_actions: set[str]
) -> None:
    leading_keys = {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["LEASE"]}}
    statements = _statements(synthesized, _role_id(synthesized, function))
    conditioned = [s for s in statements if s.get("Condition") == leading_keys]
    assert [set(_as_list(s["Action"])) for s in conditioned] == [lease_actions]
    # no other statement of the function grants those actions on the table's other items
    if function == "ListPages":
        others = [s for s in statements if s not in conditioned]
        assert not {a for s in others for a in _as_list(s["Action"])} & lease_actions


def test_customer_managed_table_key_is_granted_only_to_the_table_users(
    variant: Synthesized,
) -> None:
    key = variant.stack.storage.table_key
    assert key is not None
    key_arn = json.dumps({"Fn::GetAtt": [logical_id(key), "Arn"]})
    users = {
        name
        for name in ("ListPages", "CrawlBatch", "StoreAndNotify")
        if any(r == key_arn for _, r in _grants(_statements(variant, _role_id(variant, name))))
    }
    assert users == {"ListPages", "CrawlBatch", "StoreAndNotify"}


def test_state_machine_invokes_only_its_three_functions_and_runs_the_map_on_runs(
    synthesized: Synthesized,
) -> None:
    stack = synthesized.stack
    grants = _grants(_statements(synthesized, logical_id(stack.workflow.role)))
    functions = {
        json.dumps({"Fn::GetAtt": [logical_id(f), "Arn"]})
        for f in stack.functions.by_state_name.values()
    }
    assert {r for a, r in grants if a == "lambda:InvokeFunction"} == functions
    assert {a for a, _ in grants if a.startswith("lambda:")} == {"lambda:InvokeFunction"}

    runs = json.dumps(
        {"Fn::Join": ["", [{"Fn::GetAtt": [logical_id(stack.storage.bucket), "Arn"]}, "/runs/*"]]}
    )
    s3 = {g for g in grants if g[0].startswith("s3:")}
    assert s3 == {
        ("s3:GetObject", runs),  # ItemReader
        ("s3:PutObject", runs),  # ResultWriter
        ("s3:AbortMultipartUpload", runs),
        ("s3:ListMultipartUploadParts", runs),
    }

    machine = logical_id(stack.workflow.state_machine)
    states = {g for g in grants if g[0].startswith("states:")}
    assert ("states:StartExecution", json.dumps({"Ref": machine})) in states
    executions = [r for a, r in states if a == "states:DescribeExecution"]
    assert len(executions) == 2
    for resource in executions:
        assert json.dumps({"Fn::GetAtt": [machine, "Name"]}) in resource
        assert resource.endswith(('/CrawlPages:*"]]}', ':*"]]}'))
    assert {a for a, _ in states} == {
        "states:StartExecution", "states:DescribeExecution", "states:StopExecution",
        "states:RedriveExecution",
    }  # fmt: skip
    assert not {a for a, _ in grants if a.startswith(("dynamodb:", "sns:", "kms:", "sqs:"))}


def test_state_machine_waits_for_its_logging_permissions(synthesized: Synthesized) -> None:
    (machine,) = synthesized.resources("AWS::StepFunctions::StateMachine").values()
    assert logical_id(synthesized.stack.state_machine_policy) in machine["DependsOn"]


def test_schedule_may_only_start_the_state_machine(synthesized: Synthesized) -> None:
    (rule,) = synthesized.resources("AWS::Events::Rule").values()
    role_id = rule["Properties"]["Targets"][0]["RoleArn"]["Fn::GetAtt"][0]
    grants = _grants(_statements(synthesized, role_id))
    machine = logical_id(synthesized.stack.workflow.state_machine)
    assert grants == {("states:StartExecution", json.dumps({"Ref": machine}))}
