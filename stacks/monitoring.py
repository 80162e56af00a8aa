"""Monitoring: CloudWatch alarms to the alarm topic (thresholds from config.alarms)."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.config import CrawlmapConfig


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: CrawlmapConfig,
        state_machine: sfn.StateMachine,
        functions: Mapping[str, lambda_.Function],
        dead_letter_queue: sqs.IQueue,
        alarm_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        self._period = Duration.minutes(config.alarms.period_minutes)
        self._action = actions.SnsAction(alarm_topic)
        thresholds = config.alarms
        self.alarms: list[cloudwatch.Alarm] = [
            self._alarm("ExecutionsFailed", state_machine.metric_failed(),
                        thresholds.executions_failed, "crawl runs failed"),
            self._alarm("ExecutionsTimedOut", state_machine.metric_timed_out(),
                        thresholds.executions_timed_out, "crawl runs timed out"),
            self._alarm("ExecutionThrottled", state_machine.metric_throttled(),
                        thresholds.executions_throttled, "state transitions throttled"),
        ]  # fmt: skip
        for name, function in functions.items():
            self.alarms.append(
                self._alarm(
                    f"{name}Errors",
                    function.metric_errors(),
                    thresholds.function_errors,
                    f"{name} raised errors",
                )
            )
            self.alarms.append(
                self._alarm(
                    f"{name}Throttles",
                    function.metric_throttles(),
                    thresholds.function_throttles,
                    f"{name} was throttled",
                )
            )
        self.alarms.append(
            self._alarm(
                "ScheduleDeadLetters",
                dead_letter_queue.metric_approximate_number_of_messages_visible(
                    statistic=cloudwatch.Stats.MAXIMUM
                ),
                thresholds.dlq_messages,
                "scheduled starts could not be delivered (see the dead-letter queue)",
            )
        )

    def _alarm(
        self, name: str, metric: cloudwatch.Metric, threshold: int, what: str
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            name,
            alarm_description=f"crawlmap: {what}",
            metric=metric.with_(period=self._period, statistic=metric.statistic or "Sum"),
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self._action)
        return alarm
