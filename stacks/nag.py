"""cdk-nag acknowledgements: every finding we accept, on the construct it concerns, with why.

cdk-nag 3 runs as a CDK validation plugin (`Validations.of(app).add_plugins(...)`, see
stacks/synth.py) and matches acknowledgements by exact finding id, so the IAM5 ids below are
built from the same logical ids cdk-nag prints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Acknowledgment, CfnElement, Stack, Validations
from constructs import IConstruct

if TYPE_CHECKING:
    from stacks.crawlmap_stack import CrawlmapStack

AWS = "AwsSolutions::AwsSolutions-"
SERVERLESS = "Serverless::Serverless-"


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))


def logical_id(construct: IConstruct) -> str:
    """The CloudFormation logical id of an L2 construct's resource (or of an L1 element)."""
    element = construct if isinstance(construct, CfnElement) else construct.node.default_child
    if not isinstance(element, CfnElement):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource")
    stack = Stack.of(element)
    resolved: str = stack.resolve(stack.get_logical_id(element))
    return resolved


def ref(construct: IConstruct, attribute: str | None = None) -> str:
    """How cdk-nag prints a reference to `construct` in a finding id: <LogicalId> or <Id.Attr>."""
    name = logical_id(construct)
    return f"<{name}.{attribute}>" if attribute else f"<{name}>"


def wildcard_resource(resource: str) -> str:
    return f"{AWS}IAM5[Resource::{resource}]"


PYTHON_RUNTIME_REASON = (
    "Python 3.13 is the runtime the asset's wheels are built for (pip --python-version 3.13 "
    "in stacks/bundling.py); moving to a newer runtime is a deliberate, tested change"
)
RUNS_PREFIX_REASON = (
    "object keys contain the run id, known only at run time; access is limited to runs/"
)


def acknowledge_findings(stack: CrawlmapStack) -> None:
    """The accepted findings of the Crawlmap stack, each with its one-line reason."""
    bucket_arn = ref(stack.storage.bucket, "Arn")
    if stack.storage.access_logs_bucket is None:
        acknowledge(
            stack.storage.bucket,
            f"{AWS}S1",
            "server access logs are optional (crawlmap.access_logs); the bucket holds "
            "only expiring run artifacts",
        )
    else:
        acknowledge(
            stack.storage.access_logs_bucket,
            f"{AWS}S1",
            "this is the access-log bucket; logging it into itself would loop",
        )

    for name, function in stack.functions.by_state_name.items():
        acknowledge(function, f"{AWS}L1", PYTHON_RUNTIME_REASON)
        acknowledge(function, f"{SERVERLESS}LambdaLatestVersion", PYTHON_RUNTIME_REASON)
        acknowledge(
            function,
            f"{SERVERLESS}LambdaDLQ",
            f"{name} is invoked synchronously by Step Functions, whose Retry and Catch "
            "handle failures; a DLQ only applies to asynchronous invocations",
        )
        acknowledge(
            function.role or function,
            wildcard_resource("*"),
            "X-Ray PutTraceSegments and PutTelemetryRecords accept only Resource *",
        )

    acknowledge(
        stack.functions.list_pages.role or stack.functions.list_pages,
        wildcard_resource(f"{bucket_arn}/page-lists/*"),
        "page lists are named by the execution input; access is limited to page-lists/",
    )
    for function in (stack.functions.list_pages, stack.functions.store_and_notify):
        acknowledge(
            function.role or function, wildcard_resource(f"{bucket_arn}/runs/*"), RUNS_PREFIX_REASON
        )

    crawl_batch = stack.functions.crawl_batch.role or stack.functions.crawl_batch
    for layout in ("lanes", "results"):
        acknowledge(
            crawl_batch,
            wildcard_resource(f"{bucket_arn}/runs/*/{layout}/*"),
            f"a distributed batch's {layout} object is named by run, lane and index at run "
            f"time; access is limited to runs/*/{layout}/",
        )

    policy = stack.state_machine_policy
    acknowledge(
        policy,
        wildcard_resource("*"),
        "CloudWatch Logs vended log delivery and X-Ray actions accept only Resource *",
    )
    acknowledge(
        policy,
        wildcard_resource(f"{bucket_arn}/runs/*"),
        f"the distributed Map reads batches and writes results under runs/; {RUNS_PREFIX_REASON}",
    )
    executions = (
        "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
        f"{ref(stack.workflow.state_machine, 'Name')}"
    )
    for suffix in (":*", "/CrawlPages:*"):
        acknowledge(
            stack.child_executions_policy,
            wildcard_resource(executions + suffix),
            "execution ids are generated at run time; access is limited to this state "
            "machine's executions and its map run's child executions",
        )

    for subscription in stack.notifications.email_subscriptions:
        acknowledge(
            subscription,
            f"{SERVERLESS}SNSRedrivePolicy",
            "e-mail deliveries are retried by SNS's delivery policy, and every summary is also "
            "stored in the table; a dead-letter queue would hold only copies",
        )

    dead_letters = stack.schedule.dead_letter_queue
    acknowledge(
        dead_letters, f"{AWS}SQS3", "this queue is the dead-letter queue of the schedule's target"
    )
    acknowledge(
        dead_letters,
        f"{SERVERLESS}SQSRedrivePolicy",
        "this queue is the dead-letter queue of the schedule's target",
    )
