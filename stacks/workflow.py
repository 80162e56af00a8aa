"""Workflow: the STANDARD state machine running statemachine/definition.py's chain."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks._common import removal_policy, retention
from stacks.config import CrawlmapConfig
from statemachine.definition import WorkflowFunctions, WorkflowSettings, build_definition


def workflow_settings(config: CrawlmapConfig) -> WorkflowSettings:
    """The definition's plain settings from the stack's config (statemachine/ never imports it)."""
    return WorkflowSettings(
        max_concurrency=config.max_concurrency,
        distributed_max_concurrency=config.distributed_max_concurrency,
        tolerated_failure_percentage=config.tolerated_failure_percentage,
        failure_ratio=config.failure_ratio,
    )


class Workflow(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: CrawlmapConfig,
        functions: WorkflowFunctions,
        bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "StateMachineLogs",
            retention=retention(config.log_retention_days),
            removal_policy=removal_policy(config.removal_policy),
        )
        # The role's policies are written out by the stack (least privilege, tested); CDK's own
        # additions are dropped because they grant the whole bucket (cf. aws-cdk#28820).
        self.role = iam.Role(
            self,
            "StateMachineRole",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description="crawlmap: the crawl state machine",
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(
                build_definition(
                    self, functions=functions, bucket=bucket, settings=workflow_settings(config)
                )
            ),
            state_machine_type=sfn.StateMachineType.STANDARD,
            role=self.role.without_policy_updates(),
            timeout=Duration.minutes(config.execution_timeout_minutes),
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.log_group,
                level=sfn.LogLevel.ALL,
                include_execution_data=config.log_execution_data,
            ),
            comment="crawlmap: list pages, crawl them in parallel, store and notify",
        )
        # CDK's own distributed Map policy targets the immutable role and would never be
        # attached; stacks/grants.py writes the tested equivalent.
        self.state_machine.node.try_remove_child("DistributedMapPolicy")
