"""Functions: ListPages, CrawlBatch and StoreAndNotify from one shared asset.

Environment variable names come from lambdas.common.env (the only runtime module CDK code
imports). Each function gets only the variables it reads; grants are made by the stack.
"""

from __future__ import annotations

import json
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


def _flag(value: bool) -> str:
    return "true" if value else "false"


def crawl_environment(config: CrawlmapConfig) -> dict[str, str]:
    """What fetching pages needs (ListPages fetches sitemaps, CrawlBatch fetches pages)."""
    return {
        env.REQUEST_TIMEOUT: f"{config.request_timeout:g}",
        env.USER_AGENT: config.user_agent,
        env.ALLOW_PRIVATE_NETWORKS: _flag(config.allow_private_networks),
        env.OBEY_ROBOTS: _flag(config.obey_robots),
        "POWERTOOLS_SERVICE_NAME": "crawlmap",
    }


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
        crawl_env = crawl_environment(config)
        self.list_pages = self._function(
            "ListPages",
            module="list_pages",
            description="Validates the input, lists and batches the pages of a crawl run",
            environment={
                **crawl_env,
                env.TABLE_NAME: table_name,
                env.BUCKET_NAME: bucket_name,
                env.BATCH_SIZE: str(config.batch_size),
                env.DISTRIBUTED_BATCH_SIZE: str(config.distributed_batch_size),
                env.MAX_PAGES: str(config.max_pages),
                env.DEFAULT_SOURCE: json.dumps(dict(config.default_source), sort_keys=True),
                env.DISTRIBUTED_THRESHOLD: str(config.distributed_threshold),
            }
            | (
                {env.TRACKING_PARAMS: ",".join(config.tracking_params)}
                if config.tracking_params
                else {}
            ),
        )
        self.crawl_batch = self._function(
            "CrawlBatch",
            module="crawl_batch",
            description="Fetches one batch of pages and extracts their metadata",
            environment={
                **crawl_env,
                env.SELECTORS: json.dumps(dict(config.selectors), sort_keys=True),
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
                env.RUN_TTL_DAYS: str(config.run_ttl_days),
                "POWERTOOLS_SERVICE_NAME": "crawlmap",
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
