"""Functions: ListPages, CrawlBatch and StoreAndNotify from one shared asset.

Environment variable names come from lambdas.common.env (the only runtime module CDK code
imports). Each function gets only the variables it reads; grants are made by the stack.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from lambdas.common import env
from stacks._common import removal_policy, retention
from stacks.config import CrawlmapConfig, FunctionConfig

RUNTIME = lambda_.Runtime.PYTHON_3_13


class Functions(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: CrawlmapConfig,
        code: lambda_.Code,
        table_name: str,
        bucket_name: str,
        topic_arn: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self._code = code
        service = {"POWERTOOLS_SERVICE_NAME": "crawlmap"}
        self.list_pages = self._function(
            "ListPages",
            module="list_pages",
            description="Validates the input, lists and batches the pages of a crawl run",
            environment={
                **config.environment("list_pages"),  # the tunables (lambdas/common/tunables.py)
                **service,
                env.TABLE_NAME: table_name,
                env.BUCKET_NAME: bucket_name,
            },
        )
        self.crawl_batch = self._function(
            "CrawlBatch",
            module="crawl_batch",
            description="Fetches one batch of pages and extracts their metadata",
            environment={
                **config.environment("crawl_batch"),
                **service,
                # host notes (run-wide back-off) in the table; distributed batches in the bucket
                env.TABLE_NAME: table_name,
                env.BUCKET_NAME: bucket_name,
            },
        )
        self.store_and_notify = self._function(
            "StoreAndNotify",
            module="store_and_notify",
            description="Stores the run's page results and publishes the run summary",
            environment={
                env.TABLE_NAME: table_name,
                env.BUCKET_NAME: bucket_name,
                env.TOPIC_ARN: topic_arn,
                **config.environment("store_and_notify"),
                **service,
            },
        )

    @property
    def by_state_name(self) -> Mapping[str, lambda_.Function]:
        return {
            "ListPages": self.list_pages,
            "CrawlBatch": self.crawl_batch,
            "StoreAndNotify": self.store_and_notify,
        }

    def _function(
        self, name: str, *, module: str, description: str, environment: Mapping[str, str]
    ) -> lambda_.Function:
        settings: FunctionConfig = self._config.functions[module]
        log_group = logs.LogGroup(
            self,
            f"{name}Logs",
            retention=retention(self._config.log_retention_days),
            removal_policy=removal_policy(self._config.removal_policy),
        )
        # Our own role: no AWS-managed policy, logs only to this function's log group.
        role = iam.Role(
            self,
            f"{name}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"crawlmap: the {name} function",
        )
        log_group.grant_write(role)
        return lambda_.Function(
            self,
            name,
            role=role,
            description=f"crawlmap: {description}",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64
            if self._config.architecture == "arm64"
            else lambda_.Architecture.X86_64,
            code=self._code,
            handler=f"lambdas.{module}.handler.handler",
            memory_size=settings.memory_mb,
            timeout=Duration.seconds(settings.timeout_s),
            reserved_concurrent_executions=settings.reserved_concurrency,
            environment=dict(environment),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
        )
