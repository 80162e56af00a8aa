"""The crawlmap stack: composes one construct per capability and makes every grant."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from stacks.bundling import lambda_code
from stacks.config import CrawlmapConfig
from stacks.functions import Functions
from stacks.grants import (
    grant_crawl_batch,
    grant_list_pages,
    grant_state_machine,
    grant_store_and_notify,
)
from stacks.monitoring import Monitoring
from stacks.nag import acknowledge_findings
from stacks.notifications import Notifications
from stacks.schedule import Schedule
from stacks.storage import Storage
from stacks.workflow import Workflow
from statemachine.definition import WorkflowFunctions


class CrawlmapStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: CrawlmapConfig,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.storage = Storage(self, "Storage", config=config)
        self.notifications = Notifications(self, "Notifications", config=config)
        self.functions = Functions(
            self,
            "Functions",
            config=config,
            code=lambda_code(config.architecture),
            table_name=self.storage.table.table_name,
            bucket_name=self.storage.bucket.bucket_name,
            topic_arn=self.notifications.run_topic.topic_arn,
        )
        self.workflow = Workflow(
            self,
            "Workflow",
            config=config,
            functions=WorkflowFunctions(
                list_pages=self.functions.list_pages,
                crawl_batch=self.functions.crawl_batch,
                store_and_notify=self.functions.store_and_notify,
            ),
            bucket=self.storage.bucket,
        )

        # Grants (stacks/grants.py: every permission written out).
        table, bucket = self.storage.table, self.storage.bucket
        grant_list_pages(self.functions.list_pages, table=table, bucket=bucket)
        grant_crawl_batch(self.functions.crawl_batch, table=table, bucket=bucket)
        grant_store_and_notify(
            self.functions.store_and_notify,
            table=table,
            bucket=bucket,
            topic=self.notifications.run_topic,
        )
        self.state_machine_policy, self.child_executions_policy = grant_state_machine(
            self,
            role=self.workflow.role,
            state_machine=self.workflow.state_machine,
            functions=list(self.functions.by_state_name.values()),
            bucket=bucket,
        )

        self.schedule = Schedule(
            self, "Schedule", config=config, state_machine=self.workflow.state_machine
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            config=config,
            state_machine=self.workflow.state_machine,
            functions=self.functions.by_state_name,
            dead_letter_queue=self.schedule.dead_letter_queue,
            alarm_topic=self.notifications.alarm_topic,
        )
        acknowledge_findings(self)

        # What the deploy guide needs: start an execution, find its data.
        outputs = {
            "StateMachineArn": self.workflow.state_machine.state_machine_arn,
            "ArtifactsBucketName": bucket.bucket_name,
            "TableName": table.table_name,
            "RunTopicArn": self.notifications.run_topic.topic_arn,
            "AlarmTopicArn": self.notifications.alarm_topic.topic_arn,
        }
        for name, value in outputs.items():
            CfnOutput(self, name, value=value)
