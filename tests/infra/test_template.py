"""Every resource of the synthesized stack and the properties that matter (default config)."""

from __future__ import annotations

import json

from aws_cdk.assertions import Capture, Match, Template

from lambdas.common import env
from tests.infra.conftest import Synthesized

SSL_ONLY = Match.object_like(
    {
        "Effect": "Deny",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
)


def test_one_of_each_core_resource(template: Template) -> None:
    for resource_type, count in {
        "AWS::StepFunctions::StateMachine": 1,
        "AWS::Lambda::Function": 3,
        "AWS::DynamoDB::Table": 1,
        "AWS::S3::Bucket": 1,
        "AWS::SNS::Topic": 2,
        "AWS::Events::Rule": 1,
        "AWS::SQS::Queue": 1,
        "AWS::CloudWatch::Alarm": 10,
    }.items():
        template.resource_count_is(resource_type, count)


def test_table_is_on_demand_with_pitr_ttl_and_encryption(template: Template) -> None:
    template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "Properties": {
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "BillingMode": "PAY_PER_REQUEST",
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
                "SSESpecification": {"SSEEnabled": True},
            },
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
        },
    )


def test_bucket_is_private_encrypted_ssl_only_and_expires_runs(template: Template) -> None:
    template.has_resource(
        "AWS::S3::Bucket",
        {
            "Properties": {
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [
                        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                    ]
                },
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True,
                    "BlockPublicPolicy": True,
                    "IgnorePublicAcls": True,
                    "RestrictPublicBuckets": True,
                },
                "LifecycleConfiguration": {
                    "Rules": [
                        Match.object_like(
                            {"Prefix": "runs/", "ExpirationInDays": 90, "Status": "Enabled"}
                        )
                    ]
                },
            },
            "DeletionPolicy": "Retain",
        },
    )
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {"PolicyDocument": {"Statement": Match.array_with([SSL_ONLY])}},
    )


def test_topics_are_kms_encrypted_with_a_rotating_key_cloudwatch_may_use(
    template: Template,
) -> None:
    key = Capture()
    template.has_resource_properties(
        "AWS::SNS::Topic", {"DisplayName": "crawlmap run summaries", "KmsMasterKeyId": key}
    )
    template.has_resource_properties(
        "AWS::SNS::Topic", {"DisplayName": "crawlmap alarms", "KmsMasterKeyId": key.as_object()}
    )
    template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "EnableKeyRotation": True,
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                            }
                        )
                    ]
                )
            },
        },
    )
    template.resource_count_is("AWS::SNS::Subscription", 0)  # no e-mail configured


def test_functions_runtime_architecture_handler_sizing_tracing_logs(
    synthesized: Synthesized,
) -> None:
    expected = {
        "lambdas.list_pages.handler.handler": (512, 120),
        "lambdas.crawl_batch.handler.handler": (512, 300),
        "lambdas.store_and_notify.handler.handler": (1024, 600),
    }
    functions = synthesized.resources("AWS::Lambda::Function").values()
    assert {f["Properties"]["Handler"] for f in functions} == set(expected)
    log_groups = synthesized.resources("AWS::Logs::LogGroup")
    for function in functions:
        props = function["Properties"]
        assert props["Runtime"] == "python3.13"
        assert props["Architectures"] == ["arm64"]
        assert (props["MemorySize"], props["Timeout"]) == expected[props["Handler"]]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["LoggingConfig"]["LogFormat"] == "JSON"
        log_group = log_groups[props["LoggingConfig"]["LogGroup"]["Ref"]]
        assert log_group["Properties"]["RetentionInDays"] == 30
        assert "ReservedConcurrentExecutions" not in props


def test_function_environment_uses_the_shared_names(synthesized: Synthesized) -> None:
    by_handler = {
        f["Properties"]["Handler"].split(".")[1]: f["Properties"]["Environment"]["Variables"]
        for f in synthesized.resources("AWS::Lambda::Function").values()
    }
    table = {"Ref": synthesized.stack.resolve(synthesized.stack.storage.table.table_name)["Ref"]}
    assert by_handler["list_pages"][env.TABLE_NAME] == table
    assert by_handler["list_pages"][env.BATCH_SIZE] == "10"
    assert by_handler["list_pages"][env.DISTRIBUTED_THRESHOLD] == "500"
    assert by_handler["list_pages"][env.DISTRIBUTED_BATCH_SIZE] == "100"
    assert env.TRACKING_PARAMS not in by_handler["list_pages"]  # only the built-in ones
    assert json.loads(by_handler["list_pages"][env.DEFAULT_SOURCE]) == {
        "pages": ["https://example.com/"]
    }
    assert by_handler["crawl_batch"][env.OBEY_ROBOTS] == "true"
    assert by_handler["crawl_batch"][env.ALLOW_PRIVATE_NETWORKS] == "false"
    assert by_handler["crawl_batch"][env.REQUEST_TIMEOUT] == "10"
    # CrawlBatch: the table (host notes, expiring like the run's items) and the bucket
    # (distributed batches), never the topic.
    assert by_handler["crawl_batch"][env.TABLE_NAME] == table
    assert by_handler["crawl_batch"][env.BUCKET_NAME]["Ref"].startswith("StorageArtifactsBucket")
    assert by_handler["crawl_batch"][env.RUN_TTL_DAYS] == "90"
    assert env.TOPIC_ARN not in by_handler["crawl_batch"]
    assert by_handler["store_and_notify"][env.TOPIC_ARN]["Ref"].startswith("NotificationsRunTopic")
    assert by_handler["store_and_notify"][env.RUN_TTL_DAYS] == "90"


def test_configured_tracking_params_reach_list_pages(variant: Synthesized) -> None:
    (list_pages,) = [
        f["Properties"]["Environment"]["Variables"]
        for f in variant.resources("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == "lambdas.list_pages.handler.handler"
    ]
    assert list_pages[env.TRACKING_PARAMS] == "ref,session_id"


def test_state_machine_is_standard_logged_traced_and_bounded(template: Template) -> None:
    template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "StateMachineType": "STANDARD",
            "TracingConfiguration": {"Enabled": True},
            "LoggingConfiguration": {
                "Level": "ALL",
                "IncludeExecutionData": False,
                "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": Match.any_value()}}],
            },
        },
    )


def test_state_machine_timeout_is_in_the_definition(synthesized: Synthesized) -> None:
    assert synthesized.definition()["TimeoutSeconds"] == 120 * 60


def test_schedule_rule_targets_the_state_machine_with_retry_and_dead_letters(
    template: Template,
) -> None:
    queue = Capture()
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "cron(0 3 * * ? *)",
            "State": "ENABLED",
            "Targets": [
                Match.object_like(
                    {
                        "Arn": {"Ref": Match.string_like_regexp("^WorkflowStateMachine")},
                        "Input": "{}",
                        "RetryPolicy": {
                            "MaximumEventAgeInSeconds": 7200,
                            "MaximumRetryAttempts": 8,
                        },
                        "DeadLetterConfig": {"Arn": {"Fn::GetAtt": [queue, "Arn"]}},
                    }
                )
            ],
        },
    )
    assert queue.as_string().startswith("ScheduleDeadLetterQueue")
    template.has_resource_properties(
        "AWS::SQS::Queue", {"SqsManagedSseEnabled": True, "MessageRetentionPeriod": 1209600}
    )
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        SSL_ONLY,
                        Match.object_like(
                            {
                                "Action": "sqs:SendMessage",
                                "Principal": {"Service": "events.amazonaws.com"},
                            }
                        ),
                    ]
                )
            }
        },
    )


def test_alarms_watch_the_state_machine_functions_and_dead_letters(
    synthesized: Synthesized,
) -> None:
    alarms = [a["Properties"] for a in synthesized.resources("AWS::CloudWatch::Alarm").values()]
    watched = {(a["Namespace"], a["MetricName"]) for a in alarms}
    assert watched == {
        ("AWS/States", "ExecutionsFailed"),
        ("AWS/States", "ExecutionsTimedOut"),
        ("AWS/States", "ExecutionThrottled"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
    }
    lambda_alarms = [a for a in alarms if a["Namespace"] == "AWS/Lambda"]
    assert len(lambda_alarms) == 6  # Errors and Throttles for each of the three functions
    for alarm in alarms:
        assert len(alarm["AlarmActions"]) == 1
        assert alarm["AlarmActions"][0]["Ref"].startswith("NotificationsAlarmTopic")
        assert alarm["Threshold"] == 1
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["Period"] == 300
        assert alarm["TreatMissingData"] == "notBreaching"


def test_variant_config_flows_into_the_template(variant: Synthesized) -> None:
    template = variant.template
    for function in variant.resources("AWS::Lambda::Function").values():
        assert function["Properties"]["Architectures"] == ["x86_64"]
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Handler": "lambdas.crawl_batch.handler.handler", "ReservedConcurrentExecutions": 20},
    )
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "SSESpecification": {
                "SSEEnabled": True,
                "SSEType": "KMS",
                "KMSMasterKeyId": Match.any_value(),
            }
        },
    )
    template.resource_count_is("AWS::SNS::Subscription", 2)
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"}
    )
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LoggingConfiguration": {
                "DestinationBucketName": Match.any_value(),
                "LogFilePrefix": "artifacts/",
            }
        },
    )
    template.has_resource("AWS::DynamoDB::Table", {"DeletionPolicy": "Delete"})
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "State": "DISABLED",
            "Targets": [
                Match.object_like({"Input": '{"sitemap":"https://example.com/sitemap.xml"}'})
            ],
        },
    )
    for log_group in variant.resources("AWS::Logs::LogGroup").values():
        assert log_group["Properties"]["RetentionInDays"] == 90
    errors = [
        a["Properties"]
        for a in variant.resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == "Errors"
    ]
    assert {(a["Threshold"], a["Period"]) for a in errors} == {(3, 900)}


def test_outputs_name_what_a_deploy_needs(synthesized: Synthesized) -> None:
    outputs = synthesized.template_json["Outputs"]
    assert set(outputs) == {
        "StateMachineArn", "ArtifactsBucketName", "TableName", "RunTopicArn", "AlarmTopicArn",
    }  # fmt: skip
    assert outputs["StateMachineArn"]["Value"]["Ref"].startswith("WorkflowStateMachine")
