"""Notifications: the run topic (StoreAndNotify publishes the summary) and the alarm topic.

Both are encrypted with one customer-managed key: CloudWatch alarms cannot publish to a
topic encrypted with the AWS-managed aws/sns key, so the key policy names cloudwatch.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from stacks._common import removal_policy
from stacks.config import CrawlmapConfig


class Notifications(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: CrawlmapConfig) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "TopicKey",
            enable_key_rotation=True,
            description="crawlmap: encrypts the run and alarm topics",
            removal_policy=removal_policy(config.removal_policy),
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy "*" means this key
            )
        )
        self.run_topic = sns.Topic(
            self, "RunTopic", master_key=self.key, enforce_ssl=True,
            display_name="crawlmap run summaries",
        )  # fmt: skip
        self.alarm_topic = sns.Topic(
            self, "AlarmTopic", master_key=self.key, enforce_ssl=True,
            display_name="crawlmap alarms",
        )  # fmt: skip
        self.email_subscriptions: list[sns.Subscription] = []
        if config.notification_email:
            for topic in (self.run_topic, self.alarm_topic):
                self.email_subscriptions.append(
                    topic.add_subscription(
                        subscriptions.EmailSubscription(config.notification_email)
                    )
                )
