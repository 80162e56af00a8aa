"""Small helpers shared by the constructs."""

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs

from stacks.config import LOG_RETENTION_DAYS, RemovalPolicyName

# CDK's enum lists CloudWatch's allowed values in the same ascending order (INFINITE last).
_RETENTION = dict(zip(LOG_RETENTION_DAYS, list(logs.RetentionDays)[:-1], strict=True))


def removal_policy(name: RemovalPolicyName) -> RemovalPolicy:
    """Data outlives the stack unless the config says "destroy" (dev stacks)."""
    return RemovalPolicy.DESTROY if name == "destroy" else RemovalPolicy.RETAIN


def retention(days: int) -> logs.RetentionDays:
    return _RETENTION[days]
