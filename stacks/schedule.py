"""Schedule: an EventBridge rule that starts the state machine on the configured cron.

Failed deliveries are retried (bounded by age and attempts) and then land in an encrypted
SQS dead-letter queue, which monitoring alarms on.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.config import CrawlmapConfig

MAX_EVENT_AGE = Duration.hours(2)
RETRY_ATTEMPTS = 8


class Schedule(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: CrawlmapConfig,
        state_machine: sfn.IStateMachine,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.rule = events.Rule(
            self,
            "Rule",
            description="crawlmap: start a crawl run on schedule",
            schedule=events.Schedule.expression(config.schedule.expression),
            enabled=config.schedule.enabled,
        )
        self.rule.add_target(
            targets.SfnStateMachine(
                state_machine,
                input=events.RuleTargetInput.from_object(dict(config.schedule.input)),
                dead_letter_queue=self.dead_letter_queue,
                max_event_age=MAX_EVENT_AGE,
                retry_attempts=RETRY_ATTEMPTS,
            )
        )
