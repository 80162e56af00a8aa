"""Template reading and intrinsic resolution for the local engine (pure: no moto, no synth)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crawlmap.engine.errors import EngineError
from crawlmap.engine.resources import LocalResources, run_environment
from crawlmap.engine.template import definition_of, function_specs, resolve

TEMPLATE: dict[str, Any] = {
    "Resources": {
        "Fn": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Handler": "lambdas.crawl_batch.handler.handler",
                "MemorySize": 512,
                "Architectures": ["arm64"],
                "Timeout": 300,
                "Environment": {
                    "Variables": {
                        "CRAWLMAP_TABLE_NAME": {"Ref": "Table"},
                        "CRAWLMAP_BUCKET_NAME": {"Ref": "Bucket"},
                        "SHARED": "same",
                    }
                },
            },
        },
        "Other": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Handler": "lambdas.list_pages.handler.handler",
                "Environment": {
                    "Variables": {"SHARED": "different", "CRAWLMAP_TOPIC_ARN": {"Ref": "Topic"}}
                },
            },
        },
        "CdkHelper": {"Type": "AWS::Lambda::Function", "Properties": {"Code": {"ZipFile": "x"}}},
        "Table": {"Type": "AWS::DynamoDB::GlobalTable"},
        "Bucket": {"Type": "AWS::S3::Bucket"},
        "Topic": {"Type": "AWS::SNS::Topic"},
        "Machine": {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "DefinitionString": {
                    "Fn::Join": [
                        "",
                        [
                            '{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:',
                            {"Ref": "AWS::Partition"},
                            ':states:::lambda:invoke","Parameters":{"FunctionName":"',
                            {"Fn::GetAtt": ["Fn", "Arn"]},
                            '","Payload":{"bucket":"',
                            {"Ref": "Bucket"},
                            '"}},"End":true}}}',
                        ],
                    ]
                }
            },
        },
    }
}


def test_the_definition_resolves_to_local_names() -> None:
    resources = LocalResources(TEMPLATE)
    definition = definition_of(TEMPLATE, resources)
    task = definition["States"]["A"]
    assert task["Resource"] == "arn:aws:states:::lambda:invoke"
    assert task["Parameters"]["FunctionName"] == resources.function_arn("Fn")
    assert task["Parameters"]["FunctionName"].startswith("arn:aws:lambda:us-east-1:")
    assert task["Parameters"]["Payload"]["bucket"] == resources.bucket_name("Bucket")


def test_function_specs_skip_functions_without_a_python_handler() -> None:
    specs = function_specs(TEMPLATE)
    assert set(specs) == {"Fn", "Other"}
    assert specs["Fn"].memory_mb == 512
    assert specs["Fn"].architecture == "arm64"
    assert specs["Fn"].timeout_s == 300
    assert specs["Other"].memory_mb == 128  # CloudFormation's defaults
    assert specs["Other"].architecture == "x86_64"


def test_sub_and_getatt_forms() -> None:
    resources = LocalResources(TEMPLATE)
    value = resolve(
        {"Fn::Sub": ["${Bucket}/${AWS::Region}/${Fn.Arn}/${Name}", {"Name": {"Ref": "Table"}}]},
        resources,
    )
    bucket, region, arn, table = value.split("/", 3)
    assert bucket == resources.bucket_name("Bucket")
    assert region == "us-east-1"
    assert arn == resources.function_arn("Fn")
    assert table == resources.table_name("Table")
    assert resolve({"Fn::GetAtt": "Fn.Arn"}, resources) == resources.function_arn("Fn")


def test_unknown_references_and_functions_are_reported() -> None:
    resources = LocalResources(TEMPLATE)
    with pytest.raises(EngineError, match="Nowhere"):
        resolve({"Ref": "Nowhere"}, resources)
    with pytest.raises(EngineError, match="Fn::ImportValue"):
        resolve({"Fn::ImportValue": "x"}, resources)


def test_bucket_names_are_valid_s3_names() -> None:
    name = LocalResources(TEMPLATE).bucket_name("StorageArtifactsBucketB19151BF")
    assert name == name.lower()
    assert 3 <= len(name) <= 63
    assert all(c.isalnum() or c == "-" for c in name)


def test_one_environment_for_the_run_with_local_stand_ins() -> None:
    resources = LocalResources(TEMPLATE)
    environment = run_environment(
        function_specs(TEMPLATE),
        resources,
        local={"CRAWLMAP_SQLITE_PATH": "/tmp/x.db", "CRAWLMAP_NOTIFY_FILE": "/tmp/n.txt"},
        overrides={"CRAWLMAP_OBEY_ROBOTS": "false"},
    )
    variables = environment.variables
    assert variables["CRAWLMAP_SQLITE_PATH"] == "/tmp/x.db"
    assert variables["CRAWLMAP_NOTIFY_FILE"] == "/tmp/n.txt"
    assert variables["CRAWLMAP_TABLE_NAME"] == resources.table_name("Table")
    assert variables["CRAWLMAP_TOPIC_ARN"].startswith("arn:aws:sns:us-east-1:")
    assert variables["CRAWLMAP_OBEY_ROBOTS"] == "false"
    assert variables["SHARED"] == "same"
    assert len(environment.conflicts) == 1
    assert "SHARED" in environment.conflicts[0]
    # Each function's own environment: the stand-ins, the overrides and Lambda's variables.
    assert set(environment.functions) == set(function_specs(TEMPLATE))
    for logical_id, own in environment.functions.items():
        assert own["CRAWLMAP_SQLITE_PATH"] == "/tmp/x.db"
        assert own["CRAWLMAP_OBEY_ROBOTS"] == "false"
        assert own["AWS_LAMBDA_FUNCTION_NAME"] == resources.function_name(logical_id)


def test_a_damaged_cached_template_is_synthesized_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import stacks.synth
    from crawlmap.engine.template import load_template, project_root, synth_cache_key

    fresh = {"Resources": {"Fresh": {"Type": "AWS::S3::Bucket"}}}
    monkeypatch.setattr(stacks.synth, "synth_template", lambda overrides=None: fresh)
    cached = tmp_path / f"template-{synth_cache_key(project_root(), {})}.json"
    cached.write_text("{not json")
    assert load_template(tmp_path) == fresh
    assert json.loads(cached.read_text()) == fresh  # the cache is repaired
    assert load_template(tmp_path) == fresh
